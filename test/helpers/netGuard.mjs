// Preloaded with `node --import` into a server under test: every TCP/TLS connection attempt to a
// host that is not loopback is written to stderr as a "NETGUARD" line and refused, and so is every
// DNS lookup of a name other than localhost. A test asserts on those lines.
import dns from "node:dns";
import net from "node:net";

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost|::ffff:127\.\d+\.\d+\.\d+)$/i;
const report = (what, target) => process.stderr.write(`NETGUARD ${what} ${target}\n`);

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0];
  if (typeof options !== "object" || options === null) options = { port: args[0], host: typeof args[1] === "string" ? args[1] : undefined };
  if (options.path === undefined && options.port !== undefined) {
    const host = String(options.host ?? "localhost");
    if (!LOOPBACK.test(host)) {
      report("connect", `${host}:${options.port}`);
      process.nextTick(() => this.destroy(Object.assign(new Error(`NETGUARD refused a connection to ${host}`), { code: "ECONNREFUSED" })));
      return this;
    }
  }
  return connect.apply(this, args);
};

const lookup = dns.lookup;
dns.lookup = function (hostname, ...rest) {
  if (!LOOPBACK.test(String(hostname))) report("lookup", hostname);
  return lookup.call(this, hostname, ...rest);
};
const promisesLookup = dns.promises.lookup;
dns.promises.lookup = function (hostname, ...rest) {
  if (!LOOPBACK.test(String(hostname))) report("lookup", hostname);
  return promisesLookup.call(this, hostname, ...rest);
};
