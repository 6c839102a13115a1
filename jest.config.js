// jest runs in its ESM mode (node --experimental-vm-modules, see package.json)
// with @swc/jest stripping types; `npm run typecheck` is what checks them.
// See docs/adr/0003-jest-esm.md.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2023', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: '<rootDir>/test/harness/global-setup.ts',
  globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
  testTimeout: 60000,
  // Integration tests share one control plane and each runs its own operator: one file at a time.
  maxWorkers: 1,
};
