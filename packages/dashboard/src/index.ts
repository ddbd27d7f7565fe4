/** @liaison/dashboard: operations for a liaison server (work in progress, not published yet). */
export {};
