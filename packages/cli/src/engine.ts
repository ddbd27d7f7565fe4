/** `liaison/engine`: the sans-I/O engine (all of @liaison/core), as `@liaison/node/engine` (docs/API.md). */
export * from '@liaison/node/engine';
