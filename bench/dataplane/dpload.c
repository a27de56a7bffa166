/*
 * dpload: the paced message source of benchmarks 4 and 5 (bench/README.md).
 *
 *   dpload -m udp  -a 127.0.0.1:PORT -f devices.txt -r RATE -d SECONDS ...
 *   dpload -m http -a 127.0.0.1:PORT -P '/pub?id=ch' -r RATE ...   (nchan)
 *   dpload -m mqtt -a 127.0.0.1:PORT -t topic -r RATE ...          (mosquitto)
 *
 * Message i (0, 1, 2, ...) belongs to device i % N; every message is SIZE
 * bytes of ASCII:
 *
 *   "<run> <i> <t> " then '.' up to SIZE
 *
 * run: the run id (-R), i: the message index (decimal), t: CLOCK_MONOTONIC
 * in ns taken just before the message is handed to the kernel.  dpsub
 * reads them back.
 *
 * Pacing: a token bucket.  At time t since the start, floor(t * RATE)
 * messages are due; whatever is due and not sent goes out at once (in one
 * sendmmsg() per 1024 datagrams, or in one write() per connection), then
 * the sender sleeps until the next message is due.  Sending stops at
 * SECONDS (nothing due later is sent); what was due but could not be sent
 * by then (a server that pushes back) is reported as "behind".
 *
 * udp:  one socket, each datagram from its device's address (-f: one IPv4
 *       address a line, device k on line k+1) by IP_PKTINFO.
 * http: -c keep-alive connections, pipelined (at most -w requests in
 *       flight each), "POST PATH" with the message as the body; message i
 *       goes on connection i % C (so one device's messages stay in order).
 * mqtt: -c connections, MQTT 3.1.1, CONNECT then PUBLISH QoS 0 to TOPIC;
 *       message i on connection i % C.
 *
 * Prints "RESULT key=value" lines (sent, due, behind, elapsed_s, rate,
 * errors, and for http the answers by status).  Everything is bounded:
 * SECONDS of sending plus at most -g seconds to collect answers.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MODE_UDP   0
#define MODE_HTTP  1
#define MODE_MQTT  2

#define MAX_CONNS  64
#define UDP_BATCH  1024
#define OUTBUF     (1024 * 1024)
#define INBUF      (256 * 1024)


static int          mode = MODE_UDP;
static char        *addr_s = "127.0.0.1:31415";
static char        *devfile;
static char        *path = "/pub";
static char        *topic = "bench";
static double       rate = 10000;
static double       seconds = 5;
static double       grace = 5;
static long         ndev = 1000;
static long         size = 64;
static long         run = 1;
static int          nconns = 4;
static int          window = 64;

static struct sockaddr_in  dst;


static uint64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}


static void
sleep_until(uint64_t t)
{
    struct timespec  ts;

    ts.tv_sec = t / 1000000000ULL;
    ts.tv_nsec = t % 1000000000ULL;

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)
           == EINTR)
    {
        /* again */
    }
}


static void
die(const char *what)
{
    fprintf(stderr, "dpload: %s: %s\n", what, strerror(errno));
    printf("RESULT error=%s\n", what);
    exit(2);
}


/* writes message i at p (size bytes) */
static void
message(char *p, uint64_t i)
{
    int  n;

    n = snprintf(p, size + 1, "%ld %llu %llu ", run, (unsigned long long) i,
                 (unsigned long long) now_ns());

    if (n < size) {
        memset(p + n, '.', size - n);
    }
}


static int
tcp_connect(void)
{
    int  s, one = 1;

    s = socket(AF_INET, SOCK_STREAM, 0);
    if (s == -1) {
        die("socket");
    }

    if (connect(s, (struct sockaddr *) &dst, sizeof(dst)) == -1) {
        die("connect");
    }

    (void) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    return s;
}


/* ------------------------------------------------------------------------ */
/* udp */

static int
run_udp(void)
{
    int                 s, sz = 8 * 1024 * 1024;
    char               *bufs, line[64];
    FILE               *f;
    long                n, k, errors = 0, enobufs = 0;
    uint64_t            start, t, due, sent = 0, total, stop;
    struct iovec       *iov;
    struct mmsghdr     *msgs;
    struct in_addr     *src;
    struct in_pktinfo **pis;
    struct cmsghdr     *cm;
    char               *ctl;
    size_t              ctl_len = CMSG_SPACE(sizeof(struct in_pktinfo));

    src = calloc(ndev, sizeof(struct in_addr));
    if (src == NULL) {
        die("calloc");
    }

    f = fopen(devfile, "r");
    if (f == NULL) {
        die("device file");
    }

    n = 0;

    while (n < ndev && fgets(line, sizeof(line), f)) {
        line[strcspn(line, " \t\r\n")] = '\0';
        if (inet_pton(AF_INET, line, &src[n]) != 1) {
            errno = EINVAL;
            die("device file: not an IPv4 address");
        }
        n++;
    }

    fclose(f);

    if (n < ndev) {
        errno = EINVAL;
        die("device file: fewer addresses than -n");
    }

    s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s == -1) {
        die("socket");
    }

    (void) setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));

    bufs = malloc((size_t) UDP_BATCH * size + 1);
    iov = calloc(UDP_BATCH, sizeof(struct iovec));
    msgs = calloc(UDP_BATCH, sizeof(struct mmsghdr));
    ctl = calloc(UDP_BATCH, ctl_len);
    pis = calloc(UDP_BATCH, sizeof(struct in_pktinfo *));

    if (bufs == NULL || iov == NULL || msgs == NULL || ctl == NULL
        || pis == NULL)
    {
        die("malloc");
    }

    for (k = 0; k < UDP_BATCH; k++) {
        iov[k].iov_base = bufs + k * size;
        iov[k].iov_len = size;
        msgs[k].msg_hdr.msg_name = &dst;
        msgs[k].msg_hdr.msg_namelen = sizeof(dst);
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        msgs[k].msg_hdr.msg_control = ctl + k * ctl_len;
        msgs[k].msg_hdr.msg_controllen = ctl_len;

        cm = CMSG_FIRSTHDR(&msgs[k].msg_hdr);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        pis[k] = (struct in_pktinfo *) CMSG_DATA(cm);
    }

    total = (uint64_t) (rate * seconds);
    start = now_ns();
    stop = start + (uint64_t) (seconds * 1e9);

    for ( ;; ) {
        t = now_ns();

        due = (uint64_t) ((double) (t - start) * rate / 1e9) + 1;
        if (due > total || t >= stop) {
            due = total;
        }

        if (t >= stop && total - sent > total / 100) {
            /* far behind (no CPU for the sender): not sent in a burst */
            break;
        }

        while (sent < due) {
            n = due - sent;
            if (n > UDP_BATCH) {
                n = UDP_BATCH;
            }

            for (k = 0; k < n; k++) {
                message(bufs + k * size, sent + k);
                pis[k]->ipi_spec_dst = src[(sent + k) % ndev];
            }

            k = sendmmsg(s, msgs, n, 0);

            if (k == -1) {
                if (errno == ENOBUFS || errno == EAGAIN) {
                    /* the kernel is out of buffers: try again shortly */
                    enobufs++;
                    break;
                }
                errors++;
                die("sendmmsg");
            }

            sent += k;
        }

        if (sent >= total || t >= stop) {
            break;
        }

        if (sent >= due) {
            /* the next message is due at start + (sent) / rate */
            sleep_until(start + (uint64_t) ((double) sent * 1e9 / rate));
        }
    }

    t = now_ns();

    printf("RESULT sent=%llu\n", (unsigned long long) sent);
    printf("RESULT due=%llu\n", (unsigned long long) total);
    printf("RESULT behind=%llu\n", (unsigned long long) (total - sent));
    printf("RESULT elapsed_s=%.3f\n", (t - start) / 1e9);
    printf("RESULT rate=%.1f\n", sent / ((t - start) / 1e9));
    printf("RESULT errors=%ld\n", errors);
    printf("RESULT enobufs=%ld\n", enobufs);

    return 0;
}


/* ------------------------------------------------------------------------ */
/* http and mqtt: connections with a user-space output buffer */

typedef struct {
    int        fd;
    uint64_t   next;         /* the next message index of this connection */
    char      *out;
    size_t     out_pos, out_len;
    char      *in;
    size_t     in_len;
    long       inflight;     /* http: requests without an answer */
    int        connected;    /* mqtt: CONNACK seen */
    int        dead;
} conn_t;


static conn_t       conns[MAX_CONNS];
static long         status_count[600];
static long         answers, errors;
static char         first_bad[160];


static void
conn_flush(conn_t *c)
{
    ssize_t  n;

    while (c->out_pos < c->out_len) {
        n = write(c->fd, c->out + c->out_pos, c->out_len - c->out_pos);

        if (n == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                break;
            }
            c->dead = 1;
            errors++;
            return;
        }

        c->out_pos += n;
    }

    if (c->out_pos == c->out_len) {
        c->out_pos = c->out_len = 0;

    } else if (c->out_pos > OUTBUF / 2) {
        memmove(c->out, c->out + c->out_pos, c->out_len - c->out_pos);
        c->out_len -= c->out_pos;
        c->out_pos = 0;
    }
}


/* how many more messages fit on the connection now */
static long
conn_room(conn_t *c)
{
    long  room;

    if (c->dead) {
        return 0;
    }

    if (mode == MODE_HTTP) {
        room = window - c->inflight;
        if ((size_t) (c->out_len + room * (size + 256)) > OUTBUF) {
            room = (OUTBUF - c->out_len) / (size + 256);
        }
        return room > 0 ? room : 0;
    }

    if (!c->connected) {
        return 0;
    }

    /* mqtt: keep at most 256k unsent in user space */
    if (c->out_len - c->out_pos > 256 * 1024) {
        return 0;
    }

    return 256;
}


static size_t
mqtt_remaining_len(unsigned char *p, size_t len)
{
    size_t  n = 0;

    do {
        *p = len % 128;
        len /= 128;
        if (len) {
            *p |= 0x80;
        }
        p++;
        n++;
    } while (len);

    return n;
}


static void
conn_add(conn_t *c, uint64_t i)
{
    char           *p;
    size_t          tl, rl;
    unsigned char   hdr[8];
    int             n;

    p = c->out + c->out_len;

    if (mode == MODE_HTTP) {
        n = sprintf(p, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: text/plain\r\nContent-Length: %ld\r\n\r\n",
                    path, size);
        p += n;
        message(p, i);
        c->out_len += n + size;
        c->inflight++;
        return;
    }

    /* PUBLISH, QoS 0: fixed header, topic, payload */
    tl = strlen(topic);
    rl = 2 + tl + size;
    hdr[0] = 0x30;
    n = 1 + mqtt_remaining_len(hdr + 1, rl);
    memcpy(p, hdr, n);
    p += n;
    *p++ = (char) (tl >> 8);
    *p++ = (char) (tl & 0xff);
    memcpy(p, topic, tl);
    p += tl;
    message(p, i);
    c->out_len += n + 2 + tl + size;
}


/* http: parses the answers in c->in; returns 0 or -1 */
static int
http_read(conn_t *c)
{
    char    *p, *end, *hdr_end, *cl;
    long     clen, status;
    ssize_t  n;

    for ( ;; ) {
        n = read(c->fd, c->in + c->in_len, INBUF - c->in_len);

        if (n == 0) {
            c->dead = 1;
            return -1;
        }

        if (n == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                break;
            }
            c->dead = 1;
            errors++;
            return -1;
        }

        c->in_len += n;

        if (c->in_len == INBUF) {
            break;
        }
    }

    p = c->in;
    end = c->in + c->in_len;

    for ( ;; ) {
        hdr_end = memmem(p, end - p, "\r\n\r\n", 4);
        if (hdr_end == NULL) {
            break;
        }

        if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0) {
            c->dead = 1;
            errors++;
            return -1;
        }

        status = strtol(p + 9, NULL, 10);

        clen = 0;
        cl = memmem(p, hdr_end - p, "\r\nContent-Length:", 17);
        if (cl == NULL) {
            cl = memmem(p, hdr_end - p, "\r\ncontent-length:", 17);
        }
        if (cl) {
            clen = strtol(cl + 17, NULL, 10);
        }

        if (hdr_end + 4 + clen > end) {
            break;
        }

        if (status >= 100 && status < 600) {
            status_count[status]++;
        }

        if ((status < 200 || status > 299) && first_bad[0] == '\0') {
            snprintf(first_bad, sizeof(first_bad), "%.*s",
                     (int) (strcspn(p, "\r\n") < 100 ? strcspn(p, "\r\n")
                                                     : 100), p);
        }

        answers++;
        c->inflight--;
        p = hdr_end + 4 + clen;
    }

    if (p != c->in) {
        memmove(c->in, p, end - p);
        c->in_len = end - p;
    }

    return 0;
}


/* mqtt: reads CONNACK (and ignores anything else) */
static int
mqtt_read(conn_t *c)
{
    ssize_t  n;

    n = read(c->fd, c->in + c->in_len, INBUF - c->in_len);

    if (n == 0) {
        c->dead = 1;
        return -1;
    }

    if (n == -1) {
        if (errno == EAGAIN || errno == EINTR) {
            return 0;
        }
        c->dead = 1;
        errors++;
        return -1;
    }

    c->in_len += n;

    if (!c->connected && c->in_len >= 4) {
        if ((unsigned char) c->in[0] != 0x20 || c->in[3] != 0) {
            fprintf(stderr, "dpload: CONNACK refused\n");
            c->dead = 1;
            errors++;
            return -1;
        }
        c->connected = 1;
    }

    c->in_len = 0;

    return 0;
}


static int
run_conns(void)
{
    int             i, k, alive, final = 0;
    char            id[32];
    long            room, behind;
    size_t          rl;
    uint64_t        start, stop, t, due, sent, total, next_due, deadline;
    conn_t         *c;
    struct pollfd   pfd[MAX_CONNS];
    unsigned char   pkt[64], *p;

    if (nconns < 1 || nconns > MAX_CONNS) {
        errno = EINVAL;
        die("-c");
    }

    if (ndev % nconns != 0) {
        /* one device's messages on one connection */
        errno = EINVAL;
        die("-n must be a multiple of -c");
    }

    for (i = 0; i < nconns; i++) {
        c = &conns[i];
        c->fd = tcp_connect();
        c->next = i;
        c->out = malloc(OUTBUF);
        c->in = malloc(INBUF);
        if (c->out == NULL || c->in == NULL) {
            die("malloc");
        }

        if (mode == MODE_MQTT) {
            /* CONNECT: MQTT 3.1.1, clean session, keep alive 0 */
            snprintf(id, sizeof(id), "dpload-%ld-%d", run, i);
            p = pkt;
            *p++ = 0x10;
            rl = 10 + 2 + strlen(id);
            *p++ = (unsigned char) rl;
            memcpy(p, "\0\4MQTT\4\2\0\0", 10);
            p += 10;
            *p++ = 0;
            *p++ = (unsigned char) strlen(id);
            memcpy(p, id, strlen(id));
            p += strlen(id);
            if (write(c->fd, pkt, p - pkt) != p - pkt) {
                die("write CONNECT");
            }
        }

        (void) fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    }

    if (mode == MODE_MQTT) {
        /* wait for every CONNACK, at most 5 s */
        deadline = now_ns() + 5000000000ULL;

        for ( ;; ) {
            alive = 0;
            for (i = 0; i < nconns; i++) {
                pfd[i].fd = conns[i].fd;
                pfd[i].events = POLLIN;
                alive += conns[i].connected;
            }

            if (alive == nconns) {
                break;
            }

            if (now_ns() > deadline) {
                errno = ETIMEDOUT;
                die("CONNACK");
            }

            (void) poll(pfd, nconns, 100);

            for (i = 0; i < nconns; i++) {
                if (pfd[i].revents) {
                    (void) mqtt_read(&conns[i]);
                }
            }
        }
    }

    total = (uint64_t) (rate * seconds);
    start = now_ns();
    stop = start + (uint64_t) (seconds * 1e9);
    deadline = stop + (uint64_t) (grace * 1e9);
    sent = 0;

    for ( ;; ) {
        t = now_ns();

        due = (uint64_t) ((double) (t - start) * rate / 1e9) + 1;
        if (due > total || t >= stop) {
            due = total;
        }

        /* hand every connection what is due for it and fits (once more
         * at the stop time: what was due by then) */
        if (t < stop || !final) {
            final = t >= stop;

            for (i = 0; i < nconns; i++) {
                c = &conns[i];
                room = conn_room(c);

                while (room > 0 && c->next < due) {
                    conn_add(c, c->next);
                    c->next += nconns;
                    room--;
                }

                if (c->out_len > c->out_pos) {
                    conn_flush(c);
                }
            }
        }

        sent = 0;
        alive = 0;
        for (i = 0; i < nconns; i++) {
            c = &conns[i];
            /* messages of this connection put into its buffer */
            sent += (c->next - i + nconns - 1) / nconns;
            if (!c->dead) {
                alive++;
            }
        }

        if (alive == 0) {
            break;
        }

        if (t >= stop) {
            /* sending is over: wait for the answers (http) and the
             * buffers to drain, until the deadline */
            k = 0;
            for (i = 0; i < nconns; i++) {
                c = &conns[i];
                if (c->dead) {
                    continue;
                }
                if (c->out_len > c->out_pos) {
                    conn_flush(c);
                }
                if (c->out_len > c->out_pos
                    || (mode == MODE_HTTP && c->inflight > 0))
                {
                    k = 1;
                }
            }

            if (k == 0 || t >= deadline) {
                break;
            }
        }

        for (i = 0; i < nconns; i++) {
            pfd[i].fd = conns[i].dead ? -1 : conns[i].fd;
            pfd[i].events = POLLIN;
            if (conns[i].out_len > conns[i].out_pos) {
                pfd[i].events |= POLLOUT;
            }
            pfd[i].revents = 0;
        }

        /* sleep until the next message is due or a socket is ready */
        next_due = start + (uint64_t) ((double) due * 1e9 / rate);
        t = now_ns();
        k = next_due > t ? (int) ((next_due - t + 999999) / 1000000) : 0;
        if (t >= stop) {
            k = 10;
        } else if (k > 10) {
            k = 10;
        }

        if (k == 0 && sent < due) {
            k = 1;    /* behind and blocked: wait for a socket */
        }

        if (k == 0) {
            /* sub-millisecond: sleep exactly until it is due */
            (void) poll(pfd, nconns, 0);
            if (next_due > now_ns()) {
                sleep_until(next_due);
            }

        } else {
            (void) poll(pfd, nconns, k);
        }

        for (i = 0; i < nconns; i++) {
            c = &conns[i];
            if (c->dead) {
                continue;
            }
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (mode == MODE_HTTP) {
                    (void) http_read(c);
                } else {
                    (void) mqtt_read(c);
                }
            }
            if (pfd[i].revents & POLLOUT) {
                conn_flush(c);
            }
        }
    }

    t = now_ns();

    if (mode == MODE_MQTT) {
        for (i = 0; i < nconns; i++) {
            if (!conns[i].dead) {
                /* DISCONNECT */
                (void) fcntl(conns[i].fd, F_SETFL, 0);
                conn_flush(&conns[i]);
                (void) write(conns[i].fd, "\xe0\0", 2);
            }
        }
    }

    behind = (long) (total - sent);

    printf("RESULT sent=%llu\n", (unsigned long long) sent);
    printf("RESULT due=%llu\n", (unsigned long long) total);
    printf("RESULT behind=%ld\n", behind);
    printf("RESULT elapsed_s=%.3f\n", (t - start) / 1e9);
    printf("RESULT rate=%.1f\n", sent / (((stop < t ? stop : t) - start)
                                         / 1e9));
    printf("RESULT errors=%ld\n", errors);

    if (mode == MODE_HTTP) {
        long  ok = 0, bad = 0, unanswered = 0;

        for (i = 200; i < 300; i++) {
            ok += status_count[i];
        }
        bad = answers - ok;
        for (i = 0; i < nconns; i++) {
            unanswered += conns[i].inflight;
        }
        printf("RESULT answers=%ld\n", answers);
        printf("RESULT answers_2xx=%ld\n", ok);
        printf("RESULT answers_other=%ld\n", bad);
        printf("RESULT unanswered=%ld\n", unanswered);
        for (i = 100; i < 600; i++) {
            if (status_count[i]) {
                printf("RESULT status_%d=%ld\n", i, status_count[i]);
            }
        }
        if (first_bad[0]) {
            printf("RESULT first_bad=%s\n", first_bad);
        }
    }

    for (i = 0; i < nconns; i++) {
        close(conns[i].fd);
    }

    return 0;
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: dpload -m udp|http|mqtt -a HOST:PORT -r RATE -d SECONDS\n"
        "         [-n DEVICES] [-s SIZE] [-R RUN] [-f DEVFILE (udp)]\n"
        "         [-P PATH (http)] [-t TOPIC (mqtt)] [-c CONNS] [-w WINDOW]\n"
        "         [-g GRACE_SECONDS]\n");
    exit(1);
}


int
main(int argc, char **argv)
{
    int    o;
    char  *colon;

    while ((o = getopt(argc, argv, "m:a:f:P:t:r:d:g:n:s:R:c:w:")) != -1) {
        switch (o) {
        case 'm':
            if (strcmp(optarg, "udp") == 0) {
                mode = MODE_UDP;
            } else if (strcmp(optarg, "http") == 0) {
                mode = MODE_HTTP;
            } else if (strcmp(optarg, "mqtt") == 0) {
                mode = MODE_MQTT;
            } else {
                usage();
            }
            break;
        case 'a': addr_s = optarg; break;
        case 'f': devfile = optarg; break;
        case 'P': path = optarg; break;
        case 't': topic = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'g': grace = atof(optarg); break;
        case 'n': ndev = atol(optarg); break;
        case 's': size = atol(optarg); break;
        case 'R': run = atol(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'w': window = atoi(optarg); break;
        default: usage();
        }
    }

    if (rate <= 0 || seconds <= 0 || ndev < 1 || size < 48 || size > 2048) {
        fprintf(stderr, "dpload: RATE, SECONDS > 0; DEVICES >= 1; "
                "SIZE 48..2048\n");
        usage();
    }

    colon = strrchr(addr_s, ':');
    if (colon == NULL) {
        usage();
    }
    *colon = '\0';
    memset(&dst, 0, sizeof(dst));
    dst.sin_family = AF_INET;
    dst.sin_port = htons(atoi(colon + 1));
    if (inet_pton(AF_INET, addr_s, &dst.sin_addr) != 1) {
        usage();
    }

    setvbuf(stdout, NULL, _IOLBF, 0);

    if (mode == MODE_UDP) {
        if (devfile == NULL) {
            usage();
        }
        return run_udp();
    }

    return run_conns();
}
