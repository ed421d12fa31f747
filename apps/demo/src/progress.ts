/** A progress bar on a TTY; on a pipe or in CI, a plain line every few seconds instead. */
export const makeProgress = (total: number, stream: NodeJS.WriteStream = process.stdout) => {
  const tty = stream.isTTY === true
  let lastLine = 0
  let drawn = false
  return {
    update: (done: number, placed: number, extra: string) => {
      const now = Date.now()
      if (tty) {
        if (now - lastLine < 100 && done < total) return
        const width = 30
        const filled = Math.round((done / total) * width)
        stream.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.floor((done / total) * 100)).padStart(3)}%  ${done}/${total} finished, ${placed} placed  ${extra}   `)
        drawn = true
      } else {
        if (now - lastLine < 2_000 && done < total) return
        stream.write(`progress: ${done}/${total} finished, ${placed} placed ${extra}\n`)
      }
      lastLine = now
    },
    end: () => {
      if (tty && drawn) stream.write("\n")
    }
  }
}
