import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

// The dependency direction of ARCHITECTURE.md: a stage never imports a later stage, and only
// main.ts / cli.ts (the composition roots) see everything.
const zone = (target, from, message) => ({ target: `./src/${target}`, from: from.map((f) => `./src/${f}`), message });
const dependencyZones = [
  zone('shared', ['config', 'http', 'triggers', 'queue', 'pipeline', 'dicom', 'model', 'fhir', 'app.ts', 'main.ts', 'cli.ts'], 'src/shared imports nothing else from src/.'),
  zone('queue', ['config', 'http', 'triggers', 'pipeline', 'dicom', 'model', 'fhir', 'app.ts', 'main.ts', 'cli.ts'], 'queue depends on shared only; the processor is injected by main.ts.'),
  zone('model', ['config', 'http', 'triggers', 'queue', 'pipeline', 'dicom', 'fhir', 'app.ts', 'main.ts', 'cli.ts'], 'model depends on shared only.'),
  zone('dicom', ['http', 'triggers', 'queue', 'pipeline', 'model', 'fhir', 'app.ts', 'main.ts', 'cli.ts'], 'dicom is an early stage: no later stage imports.'),
  zone('fhir', ['http', 'triggers', 'queue', 'pipeline', 'dicom', 'model', 'app.ts', 'main.ts', 'cli.ts'], 'fhir builders and clients do not import other stages.'),
  zone('triggers', ['http', 'pipeline', 'model', 'fhir', 'app.ts', 'main.ts', 'cli.ts'], 'triggers -> queue (producer), dicom (QIDO only).'),
  zone('http', ['pipeline', 'dicom', 'model', 'main.ts', 'cli.ts'], 'http never imports pipeline, dicom or model.'),
  zone('pipeline', ['http', 'triggers', 'app.ts', 'main.ts', 'cli.ts'], 'pipeline is reached from main.ts only.'),
  zone('audit', ['config', 'http', 'triggers', 'queue', 'pipeline', 'dicom', 'model', 'app.ts', 'main.ts', 'cli.ts'], 'audit -> shared, fhir (the FHIR sink); producers see only shared/audit-record.ts.'),
  zone('config', ['http', 'triggers', 'queue', 'pipeline', 'dicom', 'model', 'fhir', 'app.ts', 'main.ts', 'cli.ts'], 'config depends on shared only.'),
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tmp/', 'coverage/', 'models/', 'src/http/openapi-types.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: dependencyZones }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    files: ['src/cli.ts', 'src/cli/**', 'bench/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
