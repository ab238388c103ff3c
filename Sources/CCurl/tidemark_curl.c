#include "tidemark_curl.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

CURLcode tm_curl_set_long(CURL *curl, CURLoption option, long value) { return curl_easy_setopt(curl, option, value); }
CURLcode tm_curl_set_string(CURL *curl, CURLoption option, const char *value) { return curl_easy_setopt(curl, option, value); }
CURLcode tm_curl_set_pointer(CURL *curl, CURLoption option, void *value) { return curl_easy_setopt(curl, option, value); }
CURLcode tm_curl_set_offset(CURL *curl, CURLoption option, curl_off_t value) { return curl_easy_setopt(curl, option, value); }

CURLcode tm_curl_set_write(CURL *curl, tm_data_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, callback);
    return code != CURLE_OK ? code : curl_easy_setopt(curl, CURLOPT_WRITEDATA, context);
}

CURLcode tm_curl_set_read(CURL *curl, tm_data_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(curl, CURLOPT_READFUNCTION, callback);
    return code != CURLE_OK ? code : curl_easy_setopt(curl, CURLOPT_READDATA, context);
}

CURLcode tm_curl_set_header_callback(CURL *curl, tm_data_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, callback);
    return code != CURLE_OK ? code : curl_easy_setopt(curl, CURLOPT_HEADERDATA, context);
}

long tm_curl_response_code(CURL *curl) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static int tm_verify(X509_STORE_CTX *store, void *argument) {
    tm_tls_trust *trust = argument;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    trust->seen[0] = 0;
    if (leaf != NULL && X509_digest(leaf, EVP_sha256(), digest, &length) == 1 && length == 32) {
        for (unsigned int i = 0; i < length; i++) snprintf(trust->seen + 2 * i, 3, "%02X", digest[i]);
    }
    if (trust->pinned[0] != 0) {
        int matches = trust->seen[0] != 0 && strcmp(trust->seen, trust->pinned) == 0;
        if (!matches) X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_UNTRUSTED);
        return matches;
    }
    return X509_verify_cert(store);
}

static CURLcode tm_ssl_context(CURL *curl, void *context, void *argument) {
    (void)curl;
    SSL_CTX_set_cert_verify_callback((SSL_CTX *)context, tm_verify, argument);
    return CURLE_OK;
}

CURLcode tm_curl_set_trust(CURL *curl, tm_tls_trust *trust) {
    CURLcode code;
    if ((code = curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, tm_ssl_context)) != CURLE_OK) return code;
    if ((code = curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, trust)) != CURLE_OK) return code;
    if ((code = curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L)) != CURLE_OK) return code;
    // A resumed TLS session skips the certificate: every connection shows it again.
    if ((code = curl_easy_setopt(curl, CURLOPT_SSL_SESSIONID_CACHE, 0L)) != CURLE_OK) return code;
    return curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, trust->pinned[0] != 0 ? 0L : 2L);
}
