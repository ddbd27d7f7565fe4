/** `liaison`: the command, and the Node API re-exported so one install gives both. */
export * from '@liaison/node';
