// The images tier (test/images): builds and runs the real images with podman. Run by
// scripts/run-tests.mjs after the rest of the suite, one file at a time (its builds use every core).
// Its own timeout: a cold image build is minutes without a test event.
export default {
  files: ['dist/test/images/**/*.test.js'],
  timeout: '30m',
  concurrency: 1,
  workerThreads: false,
  environmentVariables: { NODE_ENV: 'test' },
};
