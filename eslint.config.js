// Lint is part of `npm test` (README, Tests); generated protobuf code is left alone.
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'lab/dist/**', 'node_modules/**', 'src/**/pb/*.ts', 'bench/results/**', '.lab-logs/**', '.tmp-*/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
      'no-console': 'error'
    }
  },
  { files: ['src/cli/**', 'bin/**', 'test/**', 'bench/**', 'scripts/**', '.ci/**'], rules: { 'no-console': 'off' } }
)
