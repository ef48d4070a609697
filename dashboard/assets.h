// The page, served from the binary (nothing from a CDN: the appliance runs offline). The script
// and the style are separate files so that the CSP can forbid inline script.
#pragma once

#include <string_view>

namespace ca::dashboard {

extern const std::string_view kLoginHtml;  // "{{NOTE}}" is replaced by an (escaped) message
extern const std::string_view kPageHtml;
extern const std::string_view kAppJs;
extern const std::string_view kStyleCss;

}  // namespace ca::dashboard
