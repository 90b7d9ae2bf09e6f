export default {
  files: ['dist/test/**/*.test.js'],
  timeout: '60s',
  concurrency: 2,
  workerThreads: false,
  environmentVariables: { NODE_ENV: 'test' },
};
