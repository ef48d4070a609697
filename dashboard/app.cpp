#include "dashboard/app.h"

#include <chrono>
#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "dashboard/assets.h"
#include "dashboard/views.h"
#include "profiles/policy/dashboard_credential.h"
#include "reports/render.h"

namespace ca::dashboard {

using nlohmann::json;
using profiles::policy::PolicyReader;

namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

HttpResponse Text(unsigned status, std::string body, std::string type = "text/plain") {
  HttpResponse r{status, {{"Content-Type", type + "; charset=utf-8"}}, std::move(body)};
  return r;
}

HttpResponse Json(unsigned status, const json& j) {
  return Text(status, j.dump() + "\n", "application/json");
}

HttpResponse Redirect(const std::string& to) {
  HttpResponse r{303, {{"Location", to}}, ""};
  return r;
}

std::string SessionCookie(const std::string& id, int64_t max_age) {
  return std::string(kSessionCookie) + "=" + id + "; Path=/; Max-Age=" + std::to_string(max_age) +
         "; HttpOnly; Secure; SameSite=Strict";
}

}  // namespace

std::string FormValue(std::string_view body, std::string_view name) {
  while (!body.empty()) {
    size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && UrlDecode(pair.substr(0, eq)) == name) {
      return UrlDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return "";
}

std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.starts_with(name) && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return "";
}

void AddSecurityHeaders(HttpResponse& r, bool api) {
  r.headers.push_back({"Content-Security-Policy",
                       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"});
  r.headers.push_back({"X-Frame-Options", "DENY"});
  r.headers.push_back({"X-Content-Type-Options", "nosniff"});
  // same-origin, not no-referrer: with no-referrer the browser posts the login form with
  // "Origin: null", which SameOrigin must refuse (a sandboxed frame elsewhere sends it too).
  r.headers.push_back({"Referrer-Policy", "same-origin"});
  r.headers.push_back({"Strict-Transport-Security", "max-age=31536000"});
  r.headers.push_back({"Cache-Control", api ? "no-store" : "no-cache"});
}

Dashboard::Dashboard(const profiles::policy::PolicyStore& policy, reports::Ledger ledger,
                     int64_t session_ttl)
    : policy_(policy), ledger_(std::move(ledger)), sessions_(session_ttl) {}

Dashboard::~Dashboard() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

void Dashboard::RefreshOnce() {
  std::lock_guard lock(ledger_mu_);
  auto n = ledger_.Refresh();
  if (!n && !ledger_broken_) {
    // The ledger keeps what verified before the break; the operator must look at the trail.
    ledger_broken_ = true;
    log::Error("dashboard_ledger_refresh_failed", {{"error", n.error().message}});
  }
}

void Dashboard::StartRefreshing(int period_ms) {
  RefreshOnce();
  refresher_ = std::thread([this, period_ms] {
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(period_ms),
                              [this] { return stopping_; })) {
      lock.unlock();
      RefreshOnce();
      lock.lock();
    }
  });
}

std::string Dashboard::Version(uint64_t policy_version) {
  std::lock_guard lock(ledger_mu_);
  return "\"l" + std::to_string(ledger_.version()) + "-p" + std::to_string(policy_version) + "\"";
}

std::optional<Dashboard::Session> Dashboard::CurrentSession(const HttpRequest& r,
                                                            const PolicyReader& policy) {
  std::string id = CookieValue(r.Header("cookie"), kSessionCookie);
  if (id.empty()) return std::nullopt;
  auto p = sessions_.Find(id, Now());
  if (!p) return std::nullopt;
  if (!StillCurrent(policy, *p)) {  // re-issued credential: earlier sessions end
    sessions_.Remove(id);
    return std::nullopt;
  }
  return Session{id, *p};
}

HttpResponse Dashboard::Handle(const HttpRequest& r) {
  bool api = r.path.starts_with("/api/");
  HttpResponse resp;
  if (r.method == "POST" && !SameOrigin(r)) {
    // A form on another site posting here (login CSRF: the victim logged into the attacker's
    // account). Browsers send Origin with every POST; a client without one is not a browser.
    log::Warn("dashboard_cross_origin_post", {{"peer", r.peer}, {"origin", r.Header("origin")}});
    resp = Text(403, "cross-origin request refused\n");
  } else if (r.method == "POST" && r.path == "/login") {
    resp = Login(r);
  } else if (r.method == "POST" && r.path == "/logout") {
    resp = Logout(r);
  } else if (r.method != "GET" && r.method != "HEAD") {
    resp = Text(405, "method not allowed\n");
  } else if (r.path == "/app.js") {
    resp = Text(200, std::string(kAppJs), "text/javascript");
  } else if (r.path == "/style.css") {
    resp = Text(200, std::string(kStyleCss), "text/css");
  } else if (r.path == "/health") {
    resp = Text(200, "ok\n");
  } else if (r.path == "/" || api) {
    if (api) {
      resp = Api(r);
    } else {
      auto snap = policy_.Snapshot();
      bool in = snap && CurrentSession(r, *snap).has_value();
      if (in) {
        resp = Text(200, std::string(kPageHtml), "text/html");
      } else {
        std::string page(kLoginHtml);
        std::string note = r.Query("login") == "failed"    ? "Login failed."
                           : r.Query("login") == "limited" ? "Too many failed logins; wait a minute."
                                                           : "";
        size_t at = page.find("{{NOTE}}");
        if (at != std::string::npos) page.replace(at, 8, reports::HtmlEscape(note));
        resp = Text(200, std::move(page), "text/html");
      }
    }
  } else {
    resp = Text(404, "not found\n");
  }
  AddSecurityHeaders(resp, api || r.path == "/");
  return resp;
}

bool SameOrigin(const HttpRequest& r) {
  std::string origin = r.Header("origin");
  if (origin.empty()) return true;
  return origin == "https://" + r.Header("host");
}

HttpResponse Dashboard::Login(const HttpRequest& r) {
  int64_t now = Now();
  if (!throttle_.Allowed(r.peer, now)) {
    log::Warn("dashboard_login_throttled", {{"peer", r.peer}});
    return Redirect("/?login=limited");
  }
  std::string credential = FormValue(r.body, "credential");
  auto snap = policy_.Snapshot();
  if (!snap) return Text(503, "policy store unavailable\n");
  auto principal = Authenticate(*snap, credential);
  if (!principal) {
    throttle_.Failed(r.peer, now);
    // The id part only (kid or operator name, when well-formed): never the secret.
    auto id = profiles::policy::ParseDashboardCredential(credential);
    log::Warn("dashboard_login_failed",
              {{"peer", r.peer}, {"id", id ? (id->is_operator ? "operator:" : "") + id->id : ""}});
    return Redirect("/?login=failed");
  }
  throttle_.Succeeded(r.peer);
  log::Info("dashboard_login", {{"peer", r.peer},
                                {"operator", principal->is_operator},
                                {"id", principal->id}});
  std::string id = sessions_.Create(*principal, now);
  HttpResponse resp = Redirect("/");
  resp.headers.push_back({"Set-Cookie", SessionCookie(id, sessions_.ttl())});
  return resp;
}

HttpResponse Dashboard::Logout(const HttpRequest& r) {
  std::string id = CookieValue(r.Header("cookie"), kSessionCookie);
  if (!id.empty()) sessions_.Remove(id);
  HttpResponse resp = Redirect("/");
  resp.headers.push_back({"Set-Cookie", SessionCookie("", 0)});
  return resp;
}

HttpResponse Dashboard::Api(const HttpRequest& r) {
  auto snap = policy_.Snapshot();
  if (!snap) return Json(503, {{"error", "policy store unavailable"}});
  auto session = CurrentSession(r, *snap);
  if (!session) return Json(401, {{"error", "not logged in"}});
  const Principal& p = session->principal;
  if (r.path == "/api/session") return SessionInfo(p, *snap);
  if (r.path == "/api/version") {
    std::string etag = Version(snap->version());
    if (r.Header("if-none-match") == etag) return HttpResponse{304, {{"ETag", etag}}, ""};
    HttpResponse resp = Json(200, {{"version", etag.substr(1, etag.size() - 2)}});
    resp.headers.push_back({"ETag", etag});
    return resp;
  }
  constexpr std::string_view kPrefix = "/api/accounts/";
  if (r.path.starts_with(kPrefix)) {
    std::string rest = r.path.substr(kPrefix.size());
    bool chart = rest.ends_with("/chart.svg");
    std::string kid = chart ? rest.substr(0, rest.size() - 10) : rest;
    // Authorization before any lookup: the answer for another account never depends on whether
    // it exists.
    if (!MayRead(p, kid)) {
      log::Warn("dashboard_forbidden", {{"peer", r.peer}, {"id", p.id}, {"kid", kid}});
      return Json(403, {{"error", "forbidden"}});
    }
    return Account(r, kid, chart, *snap);
  }
  return Json(404, {{"error", "not found"}});
}

HttpResponse Dashboard::SessionInfo(const Principal& p, const PolicyReader& policy) {
  json accounts = json::array();
  auto add = [&](const std::string& kid) {
    auto a = policy.FindExternalAccount(kid);
    std::string org;
    if (a) {
      auto o = policy.FindOrganization(a->organization_id);
      org = o ? o->name : a->organization_id;
    }
    accounts.push_back({{"kid", kid}, {"organization", org}});
  };
  if (p.is_operator) {
    std::set<std::string> kids;
    for (const auto& a : policy.ExternalAccounts()) kids.insert(a.kid);
    {
      std::lock_guard lock(ledger_mu_);
      for (auto& kid : ledger_.Accounts()) kids.insert(kid);
    }
    for (const auto& kid : kids) add(kid);
  } else {
    add(p.id);
  }
  return Json(200, {{"operator", p.is_operator}, {"id", p.id}, {"accounts", accounts}});
}

HttpResponse Dashboard::Account(const HttpRequest& r, const std::string& kid, bool chart,
                                const PolicyReader& policy) {
  int64_t now = Now();
  reports::AccountHistory history;
  std::vector<std::string> problems;
  {
    std::lock_guard lock(ledger_mu_);
    history = ledger_.History(kid);
    problems = ledger_.Problems();
  }
  AccountPolicyView view;
  auto a = policy.FindExternalAccount(kid);
  if (!a && history.certificates.empty() && history.changes.empty() && history.failures.empty()) {
    return Json(404, {{"error", "no such account"}});  // only an operator gets here
  }
  view.status = a ? a->DisplayStatus(now) : "unknown";
  if (a) {
    auto o = policy.FindOrganization(a->organization_id);
    view.organization = o ? o->name : a->organization_id;
    for (const auto& d : policy.DomainsOf(kid)) {
      view.domains.emplace_back(d.fqdn, std::string(profiles::policy::DomainStatusName(d.status)));
    }
  }
  if (chart) {
    return Text(200, ChartSvg(DailyCounts(history, now, kChartDays)), "image/svg+xml");
  }
  json j = AccountViewJson(history, view, now, r.Query("q"));
  // A broken chain: what is shown stops at the break, and the page says so.
  j["trail_problems"] = problems;
  return Json(200, j);
}

}  // namespace ca::dashboard
