/**
 * A progress bar on stderr, redrawn in place, only when stderr is a terminal: piped output and
 * logs get the summary alone.
 */
export const progressBar = (label: string, stream: NodeJS.WriteStream = process.stderr) => {
  const enabled = stream.isTTY === true
  let drawn = false
  return {
    update: (done: number, total: number) => {
      if (!enabled || total === 0) return
      const width = 30
      const filled = Math.round((done / total) * width)
      stream.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}`)
      drawn = true
    },
    done: () => {
      if (drawn) stream.write("\n")
      drawn = false
    }
  }
}
