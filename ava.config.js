export default {
  // test/images has its own config (ava.images.config.js): scripts/run-tests.mjs runs it last.
  files: ['dist/test/**/*.test.js', '!dist/test/images/**'],
  timeout: '60s',
  concurrency: 2,
  workerThreads: false,
  environmentVariables: { NODE_ENV: 'test' },
};
