export default {
  files: ['dist/test/**/*.test.js'],
  // ava's timeout ends every running test file when no test finished for this long: it is only the
  // last resort for a hung process. Tests bound their own waits (waitFor) and fail one by one.
  timeout: '5m',
  concurrency: 2,
  workerThreads: false,
  environmentVariables: { NODE_ENV: 'test' },
  // One reaper per worker: every process a test starts dies with it (test/helpers/reaper.ts).
  require: ['./dist/test/helpers/reaper-client.js'],
};
