/**
 * @liaison/node/engine: the sans-I/O engine under the Node API (all of @liaison/core), for
 * protocol profiles, analysers and tools that drive frames and machines themselves. Not the
 * application API: names here may change between minor versions (docs/API.md).
 */
export * from '@liaison/core';
