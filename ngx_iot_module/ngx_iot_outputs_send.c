
/*
 * Copyright (C) nginx-iot authors
 *
 * The protocols of outputs: webhook and IFTTT over libcurl, MQTT over
 * libmosquitto, UDP datagrams.  Everything here runs in a thread of
 * nginx's thread pool (ngx_iot_outputs_deliver.c), never on the event
 * loop: the libraries' blocking calls are simple and bounded by timeouts,
 * and one output has one round in flight at a time.
 *
 * Private and loopback destinations are refused unless
 * iot_outputs_private_destinations allows them, checked on the address
 * actually connected to (libcurl's socket callback; for MQTT and UDP the
 * addresses the name resolves to), so that a name cannot lead into the
 * operator's network.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <curl/curl.h>
#include <mosquitto.h>
#include <netdb.h>
#include "ngx_iot.h"
#include "ngx_iot_outputs.h"
#include "ngx_iot_outputs_send.h"


#define NGX_IOT_SEND_CONNECT_MS    5000
#define NGX_IOT_SEND_TIMEOUT_MS    15000
#define NGX_IOT_MQTT_KEEPALIVE     60
#define NGX_IOT_MQTT_CA_FILE       "/etc/ssl/certs/ca-certificates.crt"


static ngx_msec_t ngx_iot_sender_ms(void);
static ngx_uint_t ngx_iot_sender_public(struct sockaddr *sa);
static const char *ngx_iot_sender_text(ngx_iot_sender_t *s, const char *key);
static ngx_int_t ngx_iot_sender_resolve(ngx_iot_sender_t *s,
    const char *host, const char *port, int socktype,
    struct addrinfo **res);
static curl_socket_t ngx_iot_sender_socket(void *data,
    curlsocktype purpose, struct curl_sockaddr *addr);
static size_t ngx_iot_sender_discard(char *ptr, size_t size, size_t n,
    void *data);
static ngx_int_t ngx_iot_sender_post(ngx_iot_sender_t *s, const char *url,
    u_char *body, size_t len, ngx_uint_t auth);
static ngx_uint_t ngx_iot_sender_webhook(ngx_iot_sender_t *s,
    ngx_iot_out_msg_t *msgs, ngx_uint_t n, ngx_pool_t *pool);
static ngx_uint_t ngx_iot_sender_ifttt(ngx_iot_sender_t *s,
    ngx_iot_out_msg_t *msgs, ngx_uint_t n, ngx_pool_t *pool);
static ngx_uint_t ngx_iot_sender_udp(ngx_iot_sender_t *s,
    ngx_iot_out_msg_t *msgs, ngx_uint_t n);
static ngx_int_t ngx_iot_sender_mqtt_connect(ngx_iot_sender_t *s);
static ngx_uint_t ngx_iot_sender_mqtt(ngx_iot_sender_t *s,
    ngx_iot_out_msg_t *msgs, ngx_uint_t n);
static void ngx_iot_sender_mqtt_quickack(ngx_iot_sender_t *s);
static void ngx_iot_sender_mqtt_drop(ngx_iot_sender_t *s);


ngx_int_t
ngx_iot_sender_global_init(ngx_log_t *log)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "iot outputs: libcurl failed "
                      "to start");
        return NGX_ERROR;
    }

    if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "iot outputs: libmosquitto "
                      "failed to start");
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_iot_sender_global_cleanup(void)
{
    mosquitto_lib_cleanup();
    curl_global_cleanup();
}


/* the time in a thread (nginx's cached time is the event loop's) */

static ngx_msec_t
ngx_iot_sender_ms(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* loopback, private, link-local, shared, multicast, unspecified */

static ngx_uint_t
ngx_iot_sender_public(struct sockaddr *sa)
{
    u_char               *p;
    in_addr_t             a;
    struct sockaddr_in6  *sin6;

    if (sa->sa_family == AF_INET) {
        a = ntohl(((struct sockaddr_in *) sa)->sin_addr.s_addr);
        goto v4;
    }

    if (sa->sa_family != AF_INET6) {
        return 0;
    }

    sin6 = (struct sockaddr_in6 *) sa;
    p = sin6->sin6_addr.s6_addr;

    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
        a = ((in_addr_t) p[12] << 24) | ((in_addr_t) p[13] << 16)
            | ((in_addr_t) p[14] << 8) | p[15];
        goto v4;
    }

    if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)
        || IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)
        || (p[0] & 0xfe) == 0xfc              /* fc00::/7 */
        || (p[0] == 0xfe && (p[1] & 0xc0) == 0x80)   /* fe80::/10 */
        || p[0] == 0xff)                      /* multicast */
    {
        return 0;
    }

    return 1;

v4:

    if ((a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127
        || (a >> 20) == (172 << 4 | 1)        /* 172.16.0.0/12 */
        || (a >> 16) == (192 << 8 | 168)
        || (a >> 16) == (169 << 8 | 254)
        || (a >> 22) == (100 << 2 | 1)        /* 100.64.0.0/10 */
        || (a >> 28) >= 14)                   /* multicast, reserved */
    {
        return 0;
    }

    return 1;
}


static const char *
ngx_iot_sender_text(ngx_iot_sender_t *s, const char *key)
{
    json_t  *v;

    v = json_object_get(s->config, key);

    return (v && json_is_string(v)) ? json_string_value(v) : "";
}


ngx_int_t
ngx_iot_sender_init(ngx_iot_sender_t *s, ngx_iot_output_t *row,
    ngx_uint_t private_ok, ngx_str_t *ifttt, ngx_str_t *ca_file)
{
    ngx_memzero(s, sizeof(ngx_iot_sender_t));

    s->type = row->type;
    s->output_id = row->id;
    s->private_ok = private_ok;
    s->ifttt = *ifttt;
    s->ca_file = *ca_file;

    s->config = json_loadb((char *) row->config.data, row->config.len, 0,
                           NULL);

    return s->config ? NGX_OK : NGX_ERROR;
}


void
ngx_iot_sender_cleanup(ngx_iot_sender_t *s)
{
    if (s->curl) {
        curl_easy_cleanup(s->curl);
        s->curl = NULL;
    }

    if (s->mosq) {
        if (s->connected) {
            (void) mosquitto_disconnect(s->mosq);
        }

        mosquitto_destroy(s->mosq);
        s->mosq = NULL;
        s->connected = 0;
    }

    if (s->config) {
        json_decref(s->config);
        s->config = NULL;
    }
}


ngx_uint_t
ngx_iot_sender_send(ngx_iot_sender_t *s, ngx_iot_out_msg_t *msgs,
    ngx_uint_t n, ngx_pool_t *pool, ngx_log_t *log)
{
    s->error[0] = '\0';
    s->refused = 0;

    switch (s->type) {

    case NGX_IOT_OUTPUT_WEBHOOK:
        return ngx_iot_sender_webhook(s, msgs, n, pool);

    case NGX_IOT_OUTPUT_IFTTT:
        return ngx_iot_sender_ifttt(s, msgs, n, pool);

    case NGX_IOT_OUTPUT_UDP:
        return ngx_iot_sender_udp(s, msgs, n);

    case NGX_IOT_OUTPUT_MQTT:
        return ngx_iot_sender_mqtt(s, msgs, n);
    }

    ngx_cpystrn((u_char *) s->error, (u_char *) "unknown output type",
                sizeof(s->error));

    return 0;
}


static ngx_int_t
ngx_iot_sender_resolve(ngx_iot_sender_t *s, const char *host,
    const char *port, int socktype, struct addrinfo **res)
{
    int               rc;
    u_char            name[256];
    size_t            len;
    struct addrinfo   hints, *ai;

    ngx_memzero(&hints, sizeof(struct addrinfo));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV;

    /* "[::1]" as written in a URL or endpoint */

    len = ngx_strlen(host);

    if (len > 2 && host[0] == '[' && host[len - 1] == ']'
        && len - 2 < sizeof(name))
    {
        ngx_cpystrn(name, (u_char *) host + 1, len - 1);
        host = (const char *) name;
    }

    rc = getaddrinfo(host, port, &hints, res);

    if (rc != 0) {
        ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                     "%s does not resolve: %s%Z", host, gai_strerror(rc));
        return NGX_ERROR;
    }

    if (!s->private_ok) {
        for (ai = *res; ai; ai = ai->ai_next) {
            if (!ngx_iot_sender_public(ai->ai_addr)) {
                ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                             "%s is a private or loopback address, which "
                             "outputs may not reach "
                             "(iot_outputs_private_destinations)%Z", host);
                freeaddrinfo(*res);
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* libcurl: the address it is about to connect to, checked */

static curl_socket_t
ngx_iot_sender_socket(void *data, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
    ngx_iot_sender_t  *s = data;

    if (!s->private_ok && !ngx_iot_sender_public(&addr->addr)) {
        s->refused = 1;
        return CURL_SOCKET_BAD;
    }

    return socket(addr->family, addr->socktype | SOCK_CLOEXEC,
                  addr->protocol);
}


static size_t
ngx_iot_sender_discard(char *ptr, size_t size, size_t n, void *data)
{
    return size * n;
}


static ngx_int_t
ngx_iot_sender_post(ngx_iot_sender_t *s, const char *url, u_char *body,
    size_t len, ngx_uint_t auth)
{
    long                status;
    char               *line;
    CURL               *curl;
    size_t              hlen;
    CURLcode            rc;
    const char         *name, *value, *user;
    struct curl_slist  *headers, *h;

    char  errbuf[CURL_ERROR_SIZE];

    if (s->curl == NULL) {
        s->curl = curl_easy_init();
        if (s->curl == NULL) {
            ngx_cpystrn((u_char *) s->error,
                        (u_char *) "libcurl could not start a transfer",
                        sizeof(s->error));
            return NGX_ERROR;
        }
    }

    curl = s->curl;
    curl_easy_reset(curl);

    headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (headers == NULL) {
        return NGX_ERROR;
    }

    name = ngx_iot_sender_text(s, "customHeaderName");

    if (auth && name[0]) {
        value = ngx_iot_sender_text(s, "customHeaderValue");
        hlen = ngx_strlen(name) + ngx_strlen(value) + 3;

        line = malloc(hlen);
        if (line == NULL) {
            curl_slist_free_all(headers);
            return NGX_ERROR;
        }

        ngx_snprintf((u_char *) line, hlen, "%s: %s%Z", name, value);
        h = curl_slist_append(headers, line);
        free(line);

        if (h == NULL) {
            curl_slist_free_all(headers);
            return NGX_ERROR;
        }
    }

    errbuf[0] = '\0';

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) NGX_IOT_SEND_CONNECT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) NGX_IOT_SEND_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "nginx-iot/" NGX_IOT_VERSION);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (char *) body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ngx_iot_sender_discard);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION,
                     ngx_iot_sender_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, s);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

    if (s->ca_file.len) {
        /* iot_outputs_ca_file: these certificates, instead of the system's */
        curl_easy_setopt(curl, CURLOPT_CAINFO, (char *) s->ca_file.data);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }

    user = ngx_iot_sender_text(s, "basicAuthUser");

    if (auth && user[0]) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD,
                         ngx_iot_sender_text(s, "basicAuthPass"));
    }

    rc = curl_easy_perform(curl);

    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);

    if (rc != CURLE_OK) {
        if (s->refused) {
            ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                         "the host resolves to a private or loopback "
                         "address, which outputs may not reach "
                         "(iot_outputs_private_destinations)%Z");

        } else {
            ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                         "the request failed: %s%Z",
                         errbuf[0] ? errbuf : curl_easy_strerror(rc));
        }

        return NGX_ERROR;
    }

    status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

    if (status < 200 || status > 299) {
        ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                     "the server answered %l%Z", status);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* one POST of {"messages":[...]} */

static ngx_uint_t
ngx_iot_sender_webhook(ngx_iot_sender_t *s, ngx_iot_out_msg_t *msgs,
    ngx_uint_t n, ngx_pool_t *pool)
{
    u_char      *body, *p;
    size_t       len;
    ngx_uint_t   i;

    len = sizeof("{\"messages\":[]}");

    for (i = 0; i < n; i++) {
        len += msgs[i].json.len + 1;
    }

    body = ngx_pnalloc(pool, len);
    if (body == NULL) {
        return 0;
    }

    p = ngx_cpymem(body, "{\"messages\":[", sizeof("{\"messages\":[") - 1);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, msgs[i].json.data, msgs[i].json.len);
    }

    p = ngx_cpymem(p, "]}", 2);

    if (ngx_iot_sender_post(s, ngx_iot_sender_text(s, "url"), body,
                            p - body, 1)
        != NGX_OK)
    {
        return 0;
    }

    return n;
}


/* the maker request: one POST per message */

static ngx_uint_t
ngx_iot_sender_ifttt(ngx_iot_sender_t *s, ngx_iot_out_msg_t *msgs,
    ngx_uint_t n, ngx_pool_t *pool)
{
    char        *text;
    json_t      *j, *v1;
    u_char      *url;
    size_t       len;
    ngx_str_t    b64;
    ngx_uint_t   i, ok;
    const char  *key, *event;

    key = ngx_iot_sender_text(s, "key");
    event = ngx_iot_sender_text(s, "eventName");

    len = s->ifttt.len + sizeof("/trigger//with/key/") + ngx_strlen(key)
          + ngx_strlen(event);

    url = ngx_pnalloc(pool, len);
    if (url == NULL) {
        return 0;
    }

    ngx_snprintf(url, len, "%V/trigger/%s/with/key/%s%Z", &s->ifttt, event,
                 key);

    for (i = 0; i < n; i++) {
        v1 = NULL;

        if (json_is_true(json_object_get(s->config, "asIsPayload"))) {
            v1 = json_stringn((char *) msgs[i].payload.data,
                              msgs[i].payload.len);
        }

        if (v1 == NULL) {
            /* not as is, or not UTF-8: base64 */
            b64.len = ngx_base64_encoded_length(msgs[i].payload.len);
            b64.data = ngx_pnalloc(pool, b64.len + 1);
            if (b64.data == NULL) {
                return i;
            }

            ngx_encode_base64(&b64, &msgs[i].payload);
            v1 = json_stringn((char *) b64.data, b64.len);
        }

        j = json_pack("{s:o,s:s%,s:s}", "value1", v1,
                      "value2", (char *) msgs[i].device,
                      (size_t) NGX_IOT_ID_LEN, "value3", "");
        if (j == NULL) {
            return i;
        }

        text = json_dumps(j, JSON_COMPACT);
        json_decref(j);

        if (text == NULL) {
            return i;
        }

        ok = (ngx_iot_sender_post(s, (char *) url, (u_char *) text,
                                  ngx_strlen(text), 0)
              == NGX_OK);
        free(text);

        if (!ok) {
            return i;
        }
    }

    return n;
}


/* the raw payload, one datagram each */

static ngx_uint_t
ngx_iot_sender_udp(ngx_iot_sender_t *s, ngx_iot_out_msg_t *msgs,
    ngx_uint_t n)
{
    int               fd;
    char              port[NGX_INT_T_LEN + 1];
    json_t           *v;
    ngx_uint_t        i;
    struct addrinfo  *res;

    v = json_object_get(s->config, "port");

    ngx_snprintf((u_char *) port, sizeof(port), "%i%Z",
                 (ngx_int_t) (v ? json_integer_value(v) : 0));

    if (ngx_iot_sender_resolve(s, ngx_iot_sender_text(s, "host"), port,
                               SOCK_DGRAM, &res)
        != NGX_OK)
    {
        return 0;
    }

    fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd == -1) {
        ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                     "socket() failed: %s%Z", strerror(errno));
        freeaddrinfo(res);
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (sendto(fd, msgs[i].payload.data, msgs[i].payload.len, 0,
                   res->ai_addr, res->ai_addrlen)
            == -1)
        {
            ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                         "sending to %s:%s failed: %s%Z",
                         ngx_iot_sender_text(s, "host"), port,
                         strerror(errno));
            break;
        }
    }

    close(fd);
    freeaddrinfo(res);

    return i;
}


/* MQTT: a connection kept from round to round, QoS 1 */

static void
ngx_iot_sender_connected(struct mosquitto *mosq, void *data, int rc)
{
    ngx_iot_sender_t  *s = data;

    s->connack = (rc == 0) ? 1 : 2;

    if (rc) {
        ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                     "the broker refused the connection: %s%Z",
                     mosquitto_connack_string(rc));
    }
}


static void
ngx_iot_sender_published(struct mosquitto *mosq, void *data, int mid)
{
    ngx_iot_sender_t  *s = data;

    s->acked++;
}


static ngx_int_t
ngx_iot_sender_mqtt_connect(ngx_iot_sender_t *s)
{
    int               rc, port;
    char              id[NGX_IOT_ID_LEN + sizeof("nginx-iot-")];
    char              host[256];
    u_char           *p, *colon, *end;
    size_t            len;
    ngx_uint_t        tls;
    ngx_msec_t        start;
    const char       *endpoint, *client, *user;
    struct addrinfo  *res;

    endpoint = ngx_iot_sender_text(s, "endpoint");
    tls = (ngx_strncmp(endpoint, "ssl://", 6) == 0);

    /* host:port after the scheme (checked when the output was written) */

    len = ngx_strlen(endpoint);

    if (len < 7) {
        ngx_cpystrn((u_char *) s->error, (u_char *) "endpoint is not valid",
                    sizeof(s->error));
        return NGX_ERROR;
    }

    p = (u_char *) endpoint + 6;
    end = (u_char *) endpoint + len;

    if (end > p && end[-1] == '/') {
        end--;
    }

    for (colon = end; colon > p && colon[-1] != ':'; colon--) {
        /* void */
    }

    if (colon == p || (size_t) (colon - p) >= sizeof(host)
        || (size_t) (end - colon) > NGX_INT_T_LEN)
    {
        ngx_cpystrn((u_char *) s->error, (u_char *) "endpoint is not valid",
                    sizeof(s->error));
        return NGX_ERROR;
    }

    ngx_cpystrn((u_char *) host, p, colon - p);
    port = ngx_atoi(colon, end - colon);

    ngx_cpystrn((u_char *) id, colon, end - colon + 1);

    if (ngx_iot_sender_resolve(s, host, id, SOCK_STREAM, &res) != NGX_OK) {
        return NGX_ERROR;
    }

    freeaddrinfo(res);

    if (host[0] == '[') {
        ngx_memmove(host, host + 1, ngx_strlen(host));
        host[ngx_strlen(host) - 1] = '\0';
    }

    if (s->mosq == NULL) {
        client = ngx_iot_sender_text(s, "clientId");

        if (client[0] == '\0') {
            p = (u_char *) ngx_cpymem(id, "nginx-iot-", 10);
            p = ngx_iot_id_encode(p, s->output_id);
            *p = '\0';
            client = id;
        }

        s->mosq = mosquitto_new(client, true, s);
        if (s->mosq == NULL) {
            ngx_cpystrn((u_char *) s->error,
                        (u_char *) "libmosquitto could not make a client",
                        sizeof(s->error));
            return NGX_ERROR;
        }

        (void) mosquitto_int_option(s->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                                    MQTT_PROTOCOL_V311);

        /*
         * a round's publishes go at once, not 20 at a time (the library's
         * default window) and not held for acknowledgements (Nagle)
         */
        (void) mosquitto_int_option(s->mosq, MOSQ_OPT_TCP_NODELAY, 1);
        (void) mosquitto_max_inflight_messages_set(s->mosq,
                                                   NGX_IOT_SEND_MQTT_BATCH);
        mosquitto_connect_callback_set(s->mosq, ngx_iot_sender_connected);
        mosquitto_publish_callback_set(s->mosq, ngx_iot_sender_published);

        user = ngx_iot_sender_text(s, "username");

        if (user[0]) {
            (void) mosquitto_username_pw_set(s->mosq, user,
                                      ngx_iot_sender_text(s, "password"));
        }

        if (tls) {
            rc = mosquitto_tls_set(s->mosq,
                                   s->ca_file.len ? (char *) s->ca_file.data
                                                  : NGX_IOT_MQTT_CA_FILE,
                                   NULL, NULL, NULL, NULL);

            if (rc == MOSQ_ERR_SUCCESS
                && json_is_true(json_object_get(s->config,
                                                "disableCertCheck")))
            {
                rc = mosquitto_tls_opts_set(s->mosq, 0, NULL, NULL);

                if (rc == MOSQ_ERR_SUCCESS) {
                    rc = mosquitto_tls_insecure_set(s->mosq, true);
                }
            }

            if (rc != MOSQ_ERR_SUCCESS) {
                ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                             "TLS could not be set up: %s%Z",
                             mosquitto_strerror(rc));
                return NGX_ERROR;
            }
        }
    }

    s->connack = 0;

    rc = mosquitto_connect(s->mosq, host, port, NGX_IOT_MQTT_KEEPALIVE);

    if (rc != MOSQ_ERR_SUCCESS) {
        ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                     "connecting to %s failed: %s%Z", endpoint,
                     rc == MOSQ_ERR_ERRNO ? strerror(errno)
                                          : mosquitto_strerror(rc));
        return NGX_ERROR;
    }

    start = ngx_iot_sender_ms();

    while (s->connack == 0
           && ngx_iot_sender_ms() - start < NGX_IOT_SEND_TIMEOUT_MS)
    {
        rc = mosquitto_loop(s->mosq, 100, 1);

        if (rc != MOSQ_ERR_SUCCESS) {
            break;
        }
    }

    if (s->connack != 1) {
        if (s->connack == 0) {
            ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                         "the broker at %s did not accept the connection: "
                         "%s%Z", endpoint,
                         rc == MOSQ_ERR_SUCCESS ? "no answer"
                                                : mosquitto_strerror(rc));
        }

        ngx_iot_sender_mqtt_drop(s);
        return NGX_ERROR;
    }

    s->connected = 1;

    return NGX_OK;
}


static ngx_uint_t
ngx_iot_sender_mqtt(ngx_iot_sender_t *s, ngx_iot_out_msg_t *msgs,
    ngx_uint_t n)
{
    int          rc, mid;
    ngx_uint_t   i, sent;
    ngx_msec_t   start;
    const char  *topic;

    if (!s->connected && ngx_iot_sender_mqtt_connect(s) != NGX_OK) {
        return 0;
    }

    topic = ngx_iot_sender_text(s, "topicName");

    s->acked = 0;
    rc = MOSQ_ERR_SUCCESS;

    for (sent = 0; sent < n; sent++) {
        rc = mosquitto_publish(s->mosq, &mid, topic, (int) msgs[sent].json.len,
                               msgs[sent].json.data, 1, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            break;
        }
    }

    /* PUBACKs, in the order of the messages */

    start = ngx_iot_sender_ms();

    while (rc == MOSQ_ERR_SUCCESS && s->acked < sent
           && ngx_iot_sender_ms() - start < NGX_IOT_SEND_TIMEOUT_MS)
    {
        ngx_iot_sender_mqtt_quickack(s);
        rc = mosquitto_loop(s->mosq, 100, 1);
    }

    i = ngx_min(s->acked, sent);

    if (i < n) {
        ngx_snprintf((u_char *) s->error, sizeof(s->error) - 1,
                     "publishing to %s failed: %s%Z",
                     ngx_iot_sender_text(s, "endpoint"),
                     rc == MOSQ_ERR_SUCCESS ? "no acknowledgement in time"
                     : rc == MOSQ_ERR_ERRNO ? strerror(errno)
                                            : mosquitto_strerror(rc));

        /*
         * a new client next time: what was not acknowledged goes again
         * from this output's queue, not also from the library's (which
         * would send it again on a reconnect)
         */
        ngx_iot_sender_mqtt_drop(s);
    }

    return i;
}


/*
 * While a round waits for its PUBACKs, TCP acknowledges the broker's
 * segments at once.  A broker with Nagle's algorithm (mosquitto's default,
 * without set_tcp_nodelay) sends the first PUBACK and holds back the rest
 * until that segment is acknowledged, and with nothing more to send the
 * client's kernel delays that acknowledgement (40 ms on Linux): a stall
 * of 40 ms per round, 100 messages per 45 ms.  Quick-ack mode does not
 * last (the kernel leaves it on its own), so it is set before each wait.
 */

static void
ngx_iot_sender_mqtt_quickack(ngx_iot_sender_t *s)
{
#if (NGX_LINUX && defined TCP_QUICKACK)
    int  fd, one;

    fd = mosquitto_socket(s->mosq);

    if (fd != -1) {
        one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(int));
    }
#endif
}


static void
ngx_iot_sender_mqtt_drop(ngx_iot_sender_t *s)
{
    if (s->connected) {
        (void) mosquitto_disconnect(s->mosq);
    }

    mosquitto_destroy(s->mosq);
    s->mosq = NULL;
    s->connected = 0;
}


void
ngx_iot_sender_idle(ngx_iot_sender_t *s)
{
    if (s->mosq && s->connected
        && mosquitto_loop(s->mosq, 0, 1) != MOSQ_ERR_SUCCESS)
    {
        ngx_iot_sender_mqtt_drop(s);
    }
}
