/**
 * liaison sessions multiplexed over shared transport connections: `connect(url, { pool })` with a
 * Pool of default size (1,024 sessions per connection, the default `sessionsPerConnectionMax`),
 * so 100,000 sessions ride on 98 connections. Used for the memory-per-session scenario.
 */
import { liaisonPeer } from './liaison.mjs';

export default liaisonPeer({ pool: true });
