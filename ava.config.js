export default {
  // test/images has its own config (ava.images.config.js): scripts/run-tests.mjs runs it last.
  files: ['dist/test/**/*.test.js', '!dist/test/images/**'],
  // ava's timeout ends every running test file when no test finished for this long: it is only the
  // last resort for a hung process. Tests bound their own waits (waitFor) and fail one by one.
  timeout: '5m',
  concurrency: 2,
  workerThreads: false,
  environmentVariables: { NODE_ENV: 'test' },
  // One reaper per worker: every process a test starts dies with it (test/helpers/reaper.ts).
  require: ['./dist/test/helpers/reaper-client.js'],
};
