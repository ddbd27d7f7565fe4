/** Socket.IO 4 with connection state recovery on (server `connectionStateRecovery: {}`). */
import { socketioPeer } from './socketio.mjs';

export default socketioPeer({ recovery: true });

/** The same peer with client options changed (compare.mjs uses it for a 50 ms first reconnection delay). */
export const configure = (options) => socketioPeer({ recovery: true, ...options });
