// A one-line progress bar on a terminal: `[██████░░░░] 60%  6,000/10,000  3.1k/s`. A few lines of
// our own rather than a dependency; drawn at most every 100 ms, and only where asked.
export interface ProgressBar {
  update (done: number, total: number): void
  finish (): void
}

const WIDTH = 30

export function renderBar (done: number, total: number, ratePerSecond: number): string {
  const fraction = total === 0 ? 1 : Math.min(1, done / total)
  const filled = Math.round(fraction * WIDTH)
  const rate = ratePerSecond >= 1000 ? `${(ratePerSecond / 1000).toFixed(1)}k/s` : `${Math.round(ratePerSecond)}/s`
  return `[${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}] ${Math.floor(fraction * 100)}%  ${done.toLocaleString('en')}/${total.toLocaleString('en')}  ${rate}`
}

export function progressBar (stream: NodeJS.WriteStream, label: string): ProgressBar {
  const started = Date.now()
  let drawn = 0
  let last: [number, number] = [0, 0]
  const draw = (): void => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001)
    stream.write(`\r${label} ${renderBar(last[0], last[1], last[0] / seconds)}`)
    drawn = Date.now()
  }
  return {
    update (done, total) {
      last = [done, total]
      if (Date.now() - drawn >= 100) draw()
    },
    finish () {
      draw()
      stream.write('\n')
    }
  }
}
