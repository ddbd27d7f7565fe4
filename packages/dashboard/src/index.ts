/**
 * @liaison/dashboard: operations for a liaison server on one HTTP port: a live dashboard of its
 * sessions (`/`), their JSON API and event stream (`/api/...`), Prometheus metrics (`/metrics`)
 * and a health check (`/healthz`).
 *
 *   const server = await listen('tcp://0.0.0.0:7000');
 *   const dashboard = await startDashboard(server, { host: '127.0.0.1', port: 9090, adminToken });
 *   console.log(dashboard.url);
 */
export { ABORT_REASON, type Dashboard, type DashboardOptions, startDashboard } from './dashboard.js';
export type { SessionDetail, SessionSummary } from './views.js';
