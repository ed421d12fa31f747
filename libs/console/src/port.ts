// No imports: `npm run dev` (tools/dev.ts) reads it before starting any app.

/** The console's HTTP port when neither CONSOLE_PORT nor HTTP_PORT is set. */
export const DEFAULT_CONSOLE_PORT = 8090
