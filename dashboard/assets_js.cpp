#include "dashboard/assets.h"

namespace ca::dashboard {

// Builds every cell with textContent (never innerHTML): account data cannot inject markup.
const std::string_view kAppJs = R"JS("use strict";
(function () {
  let kid = null, etag = null, view = null, timer = null;
  const $ = (id) => document.getElementById(id);

  async function getJson(url) {
    const r = await fetch(url, {cache: "no-store", credentials: "same-origin"});
    if (r.status === 401) { location.href = "/"; throw new Error("logged out"); }
    if (!r.ok) throw new Error(url + ": " + r.status);
    return r.json();
  }

  function row(tbody, cells, cls) {
    const tr = document.createElement("tr");
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      td.textContent = c;
      if (cls && cls[i]) td.className = cls[i];
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
    return tr;
  }

  function fill(tableId, items, toCells, toClasses) {
    const tbody = $(tableId).querySelector("tbody");
    tbody.replaceChildren();
    items.forEach((it) => row(tbody, toCells(it), toClasses ? toClasses(it) : null));
    if (items.length === 0) row(tbody, ["(none)"]);
  }

  // Only what changed: "status: pending -> valid" for each differing field of two objects.
  function change(c) {
    const show = (v) => (v === null || v === undefined) ? "-" : JSON.stringify(v);
    const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
    if (!isObj(c.before) || !isObj(c.after)) return show(c.before) + " \u2192 " + show(c.after);
    const keys = new Set(Object.keys(c.before).concat(Object.keys(c.after)));
    const parts = [];
    keys.forEach((k) => {
      if (k === "updated_at") return;
      const b = show(c.before[k]), a = show(c.after[k]);
      if (a !== b) parts.push(k + ": " + b + " \u2192 " + a);
    });
    return parts.length ? parts.join("; ") : "(no visible change)";
  }

  function renderCertificates() {
    const q = $("search").value.trim().toLowerCase();
    const certs = view.certificates.filter((c) => !q ||
      c.serial.toLowerCase().includes(q) || c.profile.toLowerCase().includes(q) ||
      c.names.some((n) => n.toLowerCase().includes(q)));
    fill("certificates", certs,
      (c) => [(c.environment === "staging" ? "[STAGING] " : "") + c.names.join(", "), c.profile,
              c.serial, c.issued_at, c.not_after,
              c.status + (c.reason_name ? " (" + c.reason_name + ")" : "")],
      (c) => [null, null, "serial", null, null, "status-" + c.status.replace(/ /g, "-")]);
  }

  function render() {
    $("title").textContent = (view.organization || "Account") + " \u2014 " + view.kid;
    $("meta").textContent = "status " + view.status + " \u00b7 updated " + view.generated_at;
    const problems = view.trail_problems || [];
    $("problems").hidden = problems.length === 0;
    $("problems").textContent = "The audit trail does not verify; what is shown stops there: " +
                                problems.join("; ");
    $("c-issued").textContent = view.counts.issued;
    $("c-revoked").textContent = view.counts.revoked;
    $("c-valid").textContent = view.counts.valid;
    $("c-expiring").textContent = view.counts.expiring_30d;
    const stg = view.staging_counts;
    $("staging").hidden = stg.issued === 0;
    $("staging").textContent = "Staging (test certificates, not counted above): " + stg.issued +
                               " issued, " + stg.revoked + " revoked, " + stg.valid + " valid now";
    $("chart").src = "/api/accounts/" + encodeURIComponent(view.kid) + "/chart.svg?v=" +
                     encodeURIComponent(etag || "");
    renderCertificates();
    fill("domains", view.domains, (d) => [d.fqdn, d.status]);
    fill("failures", view.failures,
      (f) => [f.at, (f.environment === "staging" ? "[STAGING] " : "") + f.kind, f.name, f.challenge,
              f.result_code, f.detail || f.problem],
      () => [null, null, null, null, null, "wrap"]);
    fill("changes", view.changes,
      (c) => [c.at, c.actor, c.action, c.object_type + " " + c.object_id +
              (c.domain ? " (" + c.domain + ")" : ""), change(c)],
      () => [null, null, null, "wrap", "wrap"]);
  }

  async function load() {
    view = await getJson("/api/accounts/" + encodeURIComponent(kid));
    render();
  }

  // The cheap poll: 304 while nothing changed; a new version redraws the view.
  async function poll() {
    try {
      const headers = etag ? {"If-None-Match": etag} : {};
      const r = await fetch("/api/version", {cache: "no-store", headers: headers,
                                             credentials: "same-origin"});
      if (r.status === 401) { location.href = "/"; return; }
      if (r.status === 200) {
        etag = r.headers.get("ETag");
        await load();
      }
      $("live").className = "live";
    } catch (e) {
      $("live").className = "live stale";
    }
    timer = setTimeout(poll, 2000);
  }

  async function start() {
    const s = await getJson("/api/session");
    $("who").textContent = s.operator ? "operator " + s.id : "account " + s.id;
    const sel = $("account");
    s.accounts.forEach((a) => {
      const o = document.createElement("option");
      o.value = a.kid;
      o.textContent = (a.organization ? a.organization + " \u2014 " : "") + a.kid;
      sel.appendChild(o);
    });
    if (s.operator && s.accounts.length > 0) sel.hidden = false;
    if (s.accounts.length === 0) return;
    kid = s.accounts[0].kid;
    sel.addEventListener("change", () => {
      kid = sel.value;
      etag = null;
      if (timer) clearTimeout(timer);
      poll();
    });
    $("search").addEventListener("input", () => { if (view) renderCertificates(); });
    poll();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
)JS";

}  // namespace ca::dashboard
