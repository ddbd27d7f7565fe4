#!/usr/bin/env node
// The `liaison` command. A launcher kept in the repository (not built) so that npm can link the
// command on install, before `prepare` has built dist/ (npm skips a bin whose file is missing).
await import('../dist/main.js');
