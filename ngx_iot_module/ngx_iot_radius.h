
/*
 * Copyright (C) nginx-iot authors
 *
 * A RADIUS codec (RFC 2865, 2866, 2869, 3579; 3GPP TS 29.061 attributes):
 * pure functions that parse and verify a request and build a reply.
 */


#ifndef _NGX_IOT_RADIUS_H_INCLUDED_
#define _NGX_IOT_RADIUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_IOT_RADIUS_ACCESS_REQUEST        1
#define NGX_IOT_RADIUS_ACCESS_ACCEPT         2
#define NGX_IOT_RADIUS_ACCESS_REJECT         3
#define NGX_IOT_RADIUS_ACCOUNTING_REQUEST    4
#define NGX_IOT_RADIUS_ACCOUNTING_RESPONSE   5

#define NGX_IOT_RADIUS_HEADER_LEN            20
#define NGX_IOT_RADIUS_AUTH_LEN              16
#define NGX_IOT_RADIUS_MAX_LEN               4096

#define NGX_IOT_RADIUS_USER_NAME             1
#define NGX_IOT_RADIUS_NAS_IP_ADDRESS        4
#define NGX_IOT_RADIUS_FRAMED_IP_ADDRESS     8
#define NGX_IOT_RADIUS_VENDOR_SPECIFIC       26
#define NGX_IOT_RADIUS_CALLED_STATION_ID     30
#define NGX_IOT_RADIUS_CALLING_STATION_ID    31
#define NGX_IOT_RADIUS_NAS_IDENTIFIER        32
#define NGX_IOT_RADIUS_PROXY_STATE           33
#define NGX_IOT_RADIUS_ACCT_STATUS_TYPE      40
#define NGX_IOT_RADIUS_ACCT_SESSION_ID       44
#define NGX_IOT_RADIUS_EAP_MESSAGE           79
#define NGX_IOT_RADIUS_MESSAGE_AUTHENTICATOR 80

#define NGX_IOT_RADIUS_VENDOR_3GPP           10415
#define NGX_IOT_RADIUS_3GPP_IMSI             1
#define NGX_IOT_RADIUS_3GPP_IMEISV           20
#define NGX_IOT_RADIUS_3GPP_RAT_TYPE         21
#define NGX_IOT_RADIUS_3GPP_USER_LOCATION    22

#define NGX_IOT_RADIUS_ACCT_START            1
#define NGX_IOT_RADIUS_ACCT_STOP             2
#define NGX_IOT_RADIUS_ACCT_INTERIM          3
#define NGX_IOT_RADIUS_ACCT_ON               7
#define NGX_IOT_RADIUS_ACCT_OFF              8


typedef enum {
    NGX_IOT_RADIUS_OK = 0,
    NGX_IOT_RADIUS_MALFORMED,
    NGX_IOT_RADIUS_BAD_AUTHENTICATOR,
    NGX_IOT_RADIUS_BAD_MESSAGE_AUTHENTICATOR,
    NGX_IOT_RADIUS_NO_MESSAGE_AUTHENTICATOR
} ngx_iot_radius_rc_e;


/* a parsed request; every pointer points into the datagram */
typedef struct {
    u_char                    *data;
    size_t                     len;       /* the Length field */
    ngx_uint_t                 code;
    ngx_uint_t                 id;
    u_char                    *authenticator;
    u_char                    *message_authenticator;  /* value, or NULL */

    ngx_str_t                  imsi;
    ngx_str_t                  imeisv;
    ngx_str_t                  user_location;
    ngx_int_t                  rat_type;  /* -1: absent */

    ngx_str_t                  user_name;
    ngx_str_t                  calling_station_id;
    ngx_str_t                  called_station_id;
    ngx_str_t                  nas_identifier;
    ngx_str_t                  acct_session_id;
    ngx_int_t                  acct_status_type;  /* -1: absent */

    in_addr_t                  framed_ip;  /* network byte order */
    in_addr_t                  nas_ip;

    size_t                     proxy_state_len;  /* with their headers */

    unsigned                   has_framed_ip:1;
    unsigned                   has_nas_ip:1;
    unsigned                   has_eap:1;
} ngx_iot_radius_packet_t;


ngx_iot_radius_rc_e ngx_iot_radius_parse(u_char *buf, size_t size,
    ngx_iot_radius_packet_t *pkt, const char **why);
ngx_iot_radius_rc_e ngx_iot_radius_verify(ngx_iot_radius_packet_t *pkt,
    ngx_str_t *secret, ngx_uint_t require_ma, const char **why);
ssize_t ngx_iot_radius_reply(ngx_iot_radius_packet_t *req, ngx_uint_t code,
    in_addr_t *framed_ip, ngx_str_t *secret, u_char *out, size_t size);
size_t ngx_iot_radius_msisdn(ngx_str_t *src, u_char *dst, size_t max);
size_t ngx_iot_radius_digits(ngx_str_t *src, u_char *dst, size_t max);
const char *ngx_iot_radius_code_name(ngx_uint_t code);


#endif /* _NGX_IOT_RADIUS_H_INCLUDED_ */
