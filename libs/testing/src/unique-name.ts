let counter = 0
/** A name no other test in this run uses: isolate streams, consumers and buckets with it. */
export const uniqueName = (prefix: string): string =>
  `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`.toUpperCase()
