/** `liaison/transport`: the byte transports, as `@liaison/node/transport` (docs/API.md). */
export * from '@liaison/node/transport';
