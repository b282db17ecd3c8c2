// The console is a client-rendered app: every page talks to the authenticated API and sockets.
export const ssr = false;
export const prerender = false;
