/**
 * @liaison/testkit: tools for testing liaison over real sockets. Depends on no liaison package,
 * so it can break any of them, including one that does not build.
 */
export {
  type CutCause,
  type Direction,
  type DownMode,
  type Endpoint,
  FaultProxy,
  type FaultProxyCounters,
  type FaultProxyOptions,
  type FaultSettings,
  type ProxyEventMap,
  parseEndpoint,
  parseRange,
  type Range,
} from './fault-proxy.js';
export { makePki, type TestPki } from './pki.js';
export { closedPort } from './ports.js';
export { type RedisOptions, type RedisServer, startRedis } from './redis.js';
export { sleep, waitFor, within } from './within.js';
