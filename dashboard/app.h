// The dashboard application: routes, login and sessions, authorization of every API request, and
// the ledger kept fresh by one thread (Refresh once a second). Reads the policy store read-only.
//
//   GET  /                       the page (the login form when there is no session)
//   GET  /app.js, /style.css     the page's script and style (no inline script: CSP 'self')
//   POST /login                  form field "credential" -> session cookie, 303 to /
//   POST /logout                 ends the session
//   (a POST whose Origin is another site's is refused with 403: SameOrigin)
//   GET  /api/session            who is logged in and the accounts they may read
//   GET  /api/version            the data version (ETag; 304 on If-None-Match): the page polls it
//   GET  /api/accounts/KID       the account's view (views.h), ?q= filters the certificates
//   GET  /api/accounts/KID/chart.svg
// An account's session may read only its own KID: any other KID, existing or not, is 403.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "dashboard/http_server.h"
#include "dashboard/sessions.h"
#include "profiles/policy/store.h"
#include "reports/ledger.h"

namespace ca::dashboard {

inline constexpr std::string_view kSessionCookie = "ca_dashboard_session";

class Dashboard {
 public:
  // `policy` must outlive the dashboard.
  Dashboard(const profiles::policy::PolicyStore& policy, reports::Ledger ledger,
            int64_t session_ttl);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Starts the thread that refreshes the ledger every `period_ms` (one refresh first, here).
  void StartRefreshing(int period_ms = 1000);
  void RefreshOnce();

  HttpResponse Handle(const HttpRequest& request);

 private:
  struct Session {
    std::string id;
    Principal principal;
  };
  std::optional<Session> CurrentSession(const HttpRequest& r,
                                        const profiles::policy::PolicyReader& policy);
  HttpResponse Login(const HttpRequest& r);
  HttpResponse Logout(const HttpRequest& r);
  HttpResponse Api(const HttpRequest& r);
  HttpResponse SessionInfo(const Principal& p, const profiles::policy::PolicyReader& policy);
  HttpResponse Account(const HttpRequest& r, const std::string& kid, bool chart,
                       const profiles::policy::PolicyReader& policy);
  std::string Version(uint64_t policy_version);

  const profiles::policy::PolicyStore& policy_;
  std::mutex ledger_mu_;
  reports::Ledger ledger_;
  bool ledger_broken_ = false;
  SessionTable sessions_;
  LoginThrottle throttle_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread refresher_;
};

// Helpers of the HTTP layer, exposed for tests.
std::string FormValue(std::string_view body, std::string_view name);  // urlencoded form field
std::string CookieValue(std::string_view cookie_header, std::string_view name);
void AddSecurityHeaders(HttpResponse& r, bool api);

// True when the request carries no Origin (not a browser's POST) or its Origin is this server's own
// (https://<Host>): the login form cannot be posted from another site (login CSRF).
bool SameOrigin(const HttpRequest& r);

}  // namespace ca::dashboard
