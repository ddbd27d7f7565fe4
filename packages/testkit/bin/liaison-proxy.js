#!/usr/bin/env node
// The `liaison-proxy` command (the fault proxy, src/cli.ts). A launcher kept in the repository (not
// built) so that npm can link the command on install, before `prepare` has built dist/.
await import('../dist/cli.js');
