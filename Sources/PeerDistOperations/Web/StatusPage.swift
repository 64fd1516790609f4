import Foundation

/// The status page of `serve --web`: one HTML document with its style and script inline (no
/// external assets, no build step). The script asks `/status.json` for the node's state every
/// second and redraws; everything it shows is set as text, never as markup, since peers choose
/// their own names.
public enum StatusPage {
    /// How often the page asks for the node's state, in milliseconds.
    public static let refreshMilliseconds = 1000

    public static let html = #"""
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>PeerDist node</title>
    <style>
    body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
    h1 { font-size: 1.3em; margin: 0 0 .2em; }
    h2 { font-size: 1.05em; margin: 1.4em 0 .4em; border-bottom: 1px solid #ddd; }
    code, .mono { font-family: ui-monospace, monospace; font-size: .95em; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: .25em .6em .25em 0; vertical-align: top; }
    th { font-weight: 600; color: #555; }
    progress { width: 12em; vertical-align: middle; }
    .empty { color: #888; font-style: italic; }
    .stale { color: #a00; }
    #counters td:last-child { text-align: right; font-variant-numeric: tabular-nums; }
    </style>
    </head>
    <body>
    <h1>PeerDist node <span id="name"></span></h1>
    <div>fingerprint <code id="fingerprint">…</code></div>
    <div>listening on <span id="listening" class="mono"></span></div>
    <div>data directory <span id="data-directory" class="mono"></span></div>
    <div id="updated" class="empty">waiting for the node…</div>
    <h2>Transfers</h2>
    <table id="transfers"><thead><tr><th>content</th><th>progress</th><th></th><th>bytes</th><th>peer</th></tr></thead><tbody></tbody></table>
    <h2>Peers on the LAN</h2>
    <table id="peers"><thead><tr><th>name</th><th>fingerprint</th><th>addresses</th><th>last seen</th></tr></thead><tbody></tbody></table>
    <h2>Mirrors</h2>
    <table id="mirrors"><thead><tr><th>name</th><th>role</th><th>version</th><th>files</th><th>bytes</th><th>pending</th><th>state</th></tr></thead><tbody></tbody></table>
    <h2>Names and the DHT</h2>
    <div id="dht"></div>
    <table id="names"><thead><tr><th>name</th><th>scope</th><th>endpoints</th></tr></thead><tbody></tbody></table>
    <h2>People</h2>
    <table id="people"><thead><tr><th>name</th><th>status</th><th>note</th></tr></thead><tbody></tbody></table>
    <h2>Store</h2>
    <div id="store"></div>
    <h2>Counters</h2>
    <table id="counters"><tbody></tbody></table>
    <script>
    "use strict";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    function size(bytes) {
      let value = bytes, unit = 0;
      while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
      return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
    }
    function text(id, value) { document.getElementById(id).textContent = value; }
    function row(cells) {
      const tr = document.createElement("tr");
      for (const cell of cells) {
        const td = document.createElement("td");
        if (cell instanceof Node) { td.appendChild(cell); } else { td.textContent = String(cell); }
        tr.appendChild(td);
      }
      return tr;
    }
    function fill(id, rows, empty, columns) {
      const body = document.querySelector("#" + id + " tbody");
      body.replaceChildren(...rows);
      if (rows.length === 0 && empty) {
        const tr = row([empty]);
        tr.firstChild.colSpan = columns;
        tr.firstChild.className = "empty";
        body.appendChild(tr);
      }
    }
    function draw(state) {
      const status = state.status;
      text("name", state.name ? "— " + state.name : "");
      text("fingerprint", status.fingerprint);
      text("listening", status.listening.join(", ") || "(not listening)");
      text("data-directory", status.data_directory);
      text("updated", "updated " + new Date().toLocaleTimeString());
      document.getElementById("updated").className = "";
      fill("transfers", status.transfers.map(t => {
        const bar = document.createElement("progress");
        bar.max = t.total_bytes || 1;
        bar.value = t.held_bytes;
        const percent = t.total_bytes ? Math.floor(100 * t.held_bytes / t.total_bytes) : 100;
        const tr = row([t.content_id.slice(0, 16) + "…", bar, percent + "%", size(t.held_bytes) + " of " + size(t.total_bytes), t.peer || ""]);
        tr.className = "transfer";
        tr.dataset.contentId = t.content_id;
        tr.dataset.percent = String(percent);
        return tr;
      }), "no transfer under way", 5);
      fill("peers", state.peers.map(p => row([p.name, p.fingerprint, p.addresses.join(", "), new Date(p.last_seen).toLocaleTimeString()])),
        "none heard", 4);
      fill("mirrors", state.mirrors.map(m => row([m.name, m.role, m.version, m.files, size(m.bytes), m.pending_bytes ? size(m.pending_bytes) : "", m.error ? m.state + ": " + m.error : m.state])),
        "no mirror", 7);
      text("dht", state.dht
        ? "on the Mainline DHT as " + state.dht.node_id + " (port " + state.dht.port + "), " + state.dht.ipv6_nodes + " IPv6 and " + state.dht.ipv4_nodes + " IPv4 nodes known"
        : "not on the DHT (serve --global joins it)");
      fill("names", state.names.map(n => row([n.secured ? n.name : n.name + " (unsecured)", n.scope || "", n.endpoints.join(", ")])), "no name registered", 3);
      fill("people", state.presence.map(p => row([p.me ? p.name + " (me)" : p.name, p.status, p.note || p.reason || ""])), "nobody", 3);
      const held = status.cached.reduce((sum, e) => sum + e.held_bytes, 0);
      const published = status.published.reduce((sum, e) => sum + e.size, 0);
      text("store", status.published.length + " published (" + size(published) + "), " + status.cached.length + " cached (" + size(held) +
        (state.quota_bytes ? " of a " + size(state.quota_bytes) + " quota" : "") + ")");
      fill("counters", Object.entries(status.counters).filter(([, value]) => value > 0).map(([name, value]) =>
        row([name.replaceAll("_", " "), name.includes("bytes") ? size(value) : value])), "nothing counted yet", 2);
    }
    async function refresh() {
      try {
        const reply = await fetch("status.json", { cache: "no-store" });
        if (!reply.ok) { throw new Error("HTTP " + reply.status); }
        draw(await reply.json());
      } catch (error) {
        text("updated", "the node does not answer (" + error.message + ")");
        document.getElementById("updated").className = "stale";
      }
      setTimeout(refresh, REFRESH);
    }
    const REFRESH = __REFRESH__;
    refresh();
    </script>
    </body>
    </html>
    """#.replacingOccurrences(of: "__REFRESH__", with: "\(refreshMilliseconds)")
}
