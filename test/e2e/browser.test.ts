// The example app driven in a real headless Chromium (Debian's `chromium` package, no browser
// download): the server runs as its own process, so "restart" is a real process restart.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { freePort, waitForPort } from '../helpers/servers.js'
import { tempDir } from '../helpers/tmp.js'
import { findBinary } from '../helpers/system-servers.mjs'

const CHROMIUM = process.env.CHROMIUM_PATH ?? findBinary('chromium') ?? '/usr/bin/chromium'
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install it with \`apt-get install chromium\` (\`npm test\` does this as root)`)

const APP = join(import.meta.dirname, '..', '..', 'examples', 'app.js')
const port = await freePort()
const base = `http://127.0.0.1:${port}`
const dir = tempDir(t)
let server: ChildProcess | null = null

async function startServer (): Promise<void> {
  server = spawn(process.execPath, [APP], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', SESSION_STORE_URL: `dir://${dir}`, NODE_ENV: 'test' },
    stdio: 'ignore'
  })
  await waitForPort(port)
}

async function stopServer (): Promise<void> {
  if (server === null || server.exitCode !== null) return
  const exited = new Promise(resolve => server!.once('exit', resolve))
  server.kill('SIGKILL')
  await exited
}

await startServer()
t.teardown(stopServer)
const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
t.teardown(() => browser.close())

const text = async (page: Page, selector: string): Promise<string> => (await page.textContent(selector)) ?? ''

t.test('log in, reload, restart the server: still logged in; log out everywhere from a second browser ends the first', async t => {
  const laptop = await (await browser.newContext({ userAgent: 'Laptop browser' })).newPage()
  await laptop.goto(base + '/')
  await laptop.fill('#name', 'Ann')
  await laptop.click('#login')
  t.match(await text(laptop, '#user'), 'Logged in as Ann')
  await laptop.fill('#item', 'apple')
  await laptop.click('#add')
  t.match(await text(laptop, '#cart'), 'apple × 1')

  await laptop.reload()
  t.match(await text(laptop, '#user'), 'Logged in as Ann', 'a reload keeps the session')
  const visitsBefore = Number(await text(laptop, '#visits strong'))

  await stopServer()
  await startServer()
  await laptop.reload()
  t.match(await text(laptop, '#user'), 'Logged in as Ann', 'still logged in after a server restart')
  t.match(await text(laptop, '#cart'), 'apple × 1', 'with the cart')
  t.equal(Number(await text(laptop, '#visits strong')), visitsBefore + 1, 'and the counter carries on')

  const phone = await (await browser.newContext({ userAgent: 'Phone browser' })).newPage()
  await phone.goto(base + '/')
  await phone.fill('#name', 'Ann')
  await phone.click('#login')
  await phone.click('#your-sessions')
  const devices = await phone.locator('tr.session').allTextContents()
  t.equal(devices.length, 2, 'the sessions page lists both browsers')
  t.ok(devices.some(d => d.includes('Laptop browser')) && devices.some(d => d.includes('Phone browser') && d.includes('(this device)')))

  await phone.click('#logout-others')
  t.match(await text(phone, '#flash'), 'Your other devices are logged out.')
  t.equal(await phone.locator('tr.session').count(), 1, 'only this browser is left')
  await laptop.reload()
  t.equal(await laptop.locator('#user').count(), 0, 'the first browser is logged out')
  t.equal(await laptop.locator('#login').count(), 1, 'and sees the login form')
  t.match(await text(laptop, '#cart'), 'empty', 'with a fresh session')

  await phone.click('#logout-everywhere')
  t.equal(await phone.locator('#login').count(), 1, '"log out everywhere" ends the second browser too')
})
