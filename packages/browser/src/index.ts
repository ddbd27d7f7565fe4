/** @liaison/browser: the session client for browsers (work in progress, not published yet). */
export {};
