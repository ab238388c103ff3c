#ifndef TIDEMARK_CURL_H
#define TIDEMARK_CURL_H

#include <curl/curl.h>
#include <stddef.h>

/// What a TLS handshake showed and what it was checked against: the leaf certificate's SHA-256
/// thumbprint (upper-case hex), and the pinned thumbprint if the server is trusted by pin.
typedef struct tm_tls_trust {
    char pinned[65];
    char seen[65];
} tm_tls_trust;

typedef size_t (*tm_data_callback)(char *data, size_t size, size_t count, void *context);

/// curl_easy_setopt is variadic, which Swift cannot call: one typed wrapper per kind of value.
CURLcode tm_curl_set_long(CURL *curl, CURLoption option, long value);
CURLcode tm_curl_set_string(CURL *curl, CURLoption option, const char *value);
CURLcode tm_curl_set_pointer(CURL *curl, CURLoption option, void *value);
CURLcode tm_curl_set_offset(CURL *curl, CURLoption option, curl_off_t value);
CURLcode tm_curl_set_write(CURL *curl, tm_data_callback callback, void *context);
/// The request body comes from `callback` (an upload of unknown length streamed as it is made).
CURLcode tm_curl_set_read(CURL *curl, tm_data_callback callback, void *context);
CURLcode tm_curl_set_header_callback(CURL *curl, tm_data_callback callback, void *context);
long tm_curl_response_code(CURL *curl);

/// Checks certificates with OpenSSL: against the pinned thumbprint when `trust->pinned` is set
/// (host name not checked: the pin names the certificate exactly), else against the system's CA
/// store and the host name. Either way `trust->seen` gets the leaf's thumbprint, so a refusal
/// can tell the administrator what to pin. `trust` must outlive the handle's transfers.
CURLcode tm_curl_set_trust(CURL *curl, tm_tls_trust *trust);

#endif
