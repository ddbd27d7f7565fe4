/** What a world counts as it runs (WorldStats), summed over seeds by run.ts. */
import type { WindowStats } from './wire-meter.js';

export interface WorldStats {
  sessionsPlanned: number;
  sessionsOpened: number;
  sessionsReleased: number;
  sessionsLost: number;
  messagesSent: number;
  messagesDelivered: number;
  bytesSent: number;
  resumes: number;
  suspensions: number;
  reconnectAttempts: number;
  /** Messages reported undelivered by a lost session although the peer got them (a lost ack). */
  ambiguousMessages: number;
  events: number;
  virtualMs: number;
  clients: number;
  multiplexedClients: number;
  /** Sessions planned for multiplexing clients. */
  multiplexedSessions: number;
  /** The most sessions one client connection carried at once. */
  sessionsPerConnectionPeak: number;
  /** Reconnects that resumed two or more sessions on one new connection. */
  groupResumes: number;
  /** Sessions opened on a connection that was also resuming others, or while others were suspended. */
  opensBesideResumes: number;
  /** Ends that stopped consuming while the rest of their group went on; and how long the others took. */
  stuckEnds: number;
  isolationMaxMs: number;
  /** Sessions one end aborted (abort() called); release requests refused. */
  userAborts: number;
  releasesRefused: number;
  /** Dialogue sessions; sync points and resynchronizations their ends took or saw; messages purged. */
  dialogueSessions: number;
  syncPoints: number;
  resyncs: number;
  messagesPurged: number;
  window: WindowStats;
  /** Connections (either end) that ran inside Noise. */
  noiseConnections: number;
}

/** A world's stats before it runs: every count at zero. */
export function newWorldStats(): WorldStats {
  return {
    sessionsPlanned: 0,
    sessionsOpened: 0,
    sessionsReleased: 0,
    sessionsLost: 0,
    messagesSent: 0,
    messagesDelivered: 0,
    bytesSent: 0,
    resumes: 0,
    suspensions: 0,
    reconnectAttempts: 0,
    ambiguousMessages: 0,
    events: 0,
    virtualMs: 0,
    clients: 0,
    multiplexedClients: 0,
    multiplexedSessions: 0,
    sessionsPerConnectionPeak: 0,
    groupResumes: 0,
    opensBesideResumes: 0,
    stuckEnds: 0,
    isolationMaxMs: 0,
    userAborts: 0,
    releasesRefused: 0,
    noiseConnections: 0,
    dialogueSessions: 0,
    syncPoints: 0,
    resyncs: 0,
    messagesPurged: 0,
    window: { windowFrames: 0, windowBoundWrites: 0, peakFill: 0 },
  };
}
