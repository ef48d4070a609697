#include "dashboard/assets.h"

namespace ca::dashboard {

const std::string_view kLoginHtml = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ACME CA dashboard: login</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/style.css"></head>
<body><main class="login">
<h1>ACME CA dashboard</h1>
<p class="note" id="note">{{NOTE}}</p>
<form method="post" action="/login" autocomplete="off">
<label for="credential">Dashboard credential</label>
<input type="password" id="credential" name="credential" required size="60">
<button type="submit" id="login">Log in</button>
</form>
<p class="hint">The registration authority issues it: <code>ca-ra ext-account dashboard-credential KID</code>.</p>
</main></body></html>
)HTML";

const std::string_view kPageHtml = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ACME CA dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/style.css">
<script src="/app.js" defer></script></head>
<body>
<header><h1>ACME CA dashboard</h1>
<span id="who"></span>
<select id="account" hidden aria-label="External account"></select>
<span id="live" class="live">live</span>
<form method="post" action="/logout"><button type="submit">Log out</button></form>
</header>
<main>
<p id="problems" class="problems" hidden></p>
<section><h2 id="title">Account</h2><p id="meta"></p>
<div class="counts">
<div><b id="c-issued">0</b><span>issued</span></div>
<div><b id="c-revoked">0</b><span>revoked</span></div>
<div><b id="c-valid">0</b><span>valid now</span></div>
<div><b id="c-expiring">0</b><span>expiring within 30 days</span></div>
</div><p id="staging" class="staging" hidden></p></section>
<section><h2>Issued and revoked per day (30 days)</h2><img id="chart" alt="issued and revoked per day" width="720" height="220"></section>
<section><h2>Certificates</h2>
<input type="search" id="search" placeholder="Search names, serial, profile">
<table id="certificates"><thead><tr><th>Names</th><th>Profile</th><th>Serial</th><th>Issued</th><th>Expires</th><th>Status</th></tr></thead><tbody></tbody></table></section>
<section><h2>Domains</h2>
<table id="domains"><thead><tr><th>Domain</th><th>Status</th></tr></thead><tbody></tbody></table></section>
<section><h2>Recent validation failures and refusals</h2>
<table id="failures"><thead><tr><th>When</th><th>Kind</th><th>Name</th><th>Challenge</th><th>Result code</th><th>Detail</th></tr></thead><tbody></tbody></table></section>
<section><h2>Change history</h2>
<table id="changes"><thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Object</th><th>Change</th></tr></thead><tbody></tbody></table></section>
</main></body></html>
)HTML";

const std::string_view kStyleCss = R"CSS(body{font-family:system-ui,sans-serif;margin:0;color:#1a202c;background:#f7fafc}
header{display:flex;gap:1em;align-items:center;padding:.6em 1.2em;background:#1a365d;color:#fff}
header h1{font-size:1.2em;margin:0;flex:1}
header form{margin:0}
main{padding:1em 1.2em;max-width:1200px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:.8em 1em;margin-bottom:1em}
h2{font-size:1.05em;margin:.2em 0 .6em}
.counts{display:flex;gap:1em}
.counts div{flex:1;border:1px solid #e2e8f0;border-radius:6px;padding:.6em;text-align:center}
.counts b{display:block;font-size:1.8em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{text-align:left;border-bottom:1px solid #edf2f7;padding:.3em .5em;vertical-align:top}
td.wrap{overflow-wrap:anywhere;min-width:20em}
td.serial{font-family:monospace;font-size:.85em}
.status-valid{color:#276749}.status-revoked{color:#c53030}.status-expired{color:#718096}
.live{font-size:.8em;padding:.1em .5em;border-radius:1em;background:#38a169}
.live.stale{background:#c53030}
.login{max-width:36em;margin:4em auto;background:#fff;padding:2em;border:1px solid #e2e8f0;border-radius:6px}
.login input{width:100%;margin:.5em 0 1em;padding:.4em;font-family:monospace}
.problems{background:#fed7d7;color:#742a2a;padding:.6em 1em;border-radius:6px}
.note{color:#c53030}.hint{color:#718096;font-size:.9em}
input[type=search]{width:100%;padding:.4em;margin-bottom:.5em}
)CSS";

}  // namespace ca::dashboard
