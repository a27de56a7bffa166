/*
 * dpidle: benchmark 6 (bench/README.md), many idle WebSocket subscribers.
 *
 *   dpidle -a 127.0.0.1:PORT -P PATH -H 'X-API-Token: ...' -c 10000
 *          -d HOLD_SECONDS -p PID,PID,...  [-k CONCURRENCY] [-s SETTLE_S]
 *
 * 1. reads the memory of the processes -p (the nginx workers) with no
 *    connection open: VmRSS, RssAnon, RssFile, RssShmem of
 *    /proc/PID/status, and the kernel's TCP memory (/proc/net/sockstat);
 * 2. opens -c WebSocket connections (at most -k handshakes at a time) and
 *    waits -s seconds for things to settle;
 * 3. reads the memory again, and the CPU time of the processes
 *    (/proc/PID/schedstat, ns; /proc/PID/stat if that is missing);
 * 4. holds every connection open for HOLD_SECONDS, reading what comes
 *    (frames are counted; pings are answered; a close frame or EOF is a
 *    connection closed by the server), then reads the CPU time again;
 * 5. closes everything and prints "RESULT key=value" lines.
 *
 * One process, poll() over all connections; the caller raises ulimit -n.
 * Bounded: connecting stops after 60 s, holding after HOLD_SECONDS.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS  16

typedef struct {
    int        fd;
    int        state;      /* 0 none, 1 connecting, 2 handshake, 3 open,
                              4 closed, 5 failed */
    size_t     hlen;
    char       hbuf[512];
} conn_t;


static char          *addr_s = "127.0.0.1:8080";
static char          *path = "/";
static char          *headers[8];
static int            nheaders;
static long           nconns = 10000;
static long           concurrency = 200;
static double         hold = 60;
static double         settle = 3;
static int            pids[MAX_PIDS];
static int            npids;

static struct sockaddr_in  dst;
static conn_t        *conns;
static struct pollfd *pfd;

static long           opened, failed, frames, text_frames, server_closed;
static long           pings;
static char           first_fail[160];


static uint64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}


/* CPU time of a process in ns: schedstat, else utime + stime */
static uint64_t
cpu_ns(int pid)
{
    char                fn[64], buf[1024], *p;
    FILE               *f;
    unsigned long long  v = 0, ut, st;
    int                 k;

    snprintf(fn, sizeof(fn), "/proc/%d/schedstat", pid);
    f = fopen(fn, "r");
    if (f) {
        if (fscanf(f, "%llu", &v) == 1) {
            fclose(f);
            return v;
        }
        fclose(f);
    }

    snprintf(fn, sizeof(fn), "/proc/%d/stat", pid);
    f = fopen(fn, "r");
    if (f == NULL) {
        return 0;
    }
    if (fgets(buf, sizeof(buf), f) == NULL) {
        fclose(f);
        return 0;
    }
    fclose(f);

    p = strrchr(buf, ')');
    if (p == NULL) {
        return 0;
    }
    p += 2;
    /* field 3 is the state; utime is 14, stime 15 */
    for (k = 3; k < 14 && p; k++) {
        p = strchr(p, ' ');
        if (p) {
            p++;
        }
    }
    if (p == NULL || sscanf(p, "%llu %llu", &ut, &st) != 2) {
        return 0;
    }

    return (ut + st) * (1000000000ULL / sysconf(_SC_CLK_TCK));
}


/* kB of VmRSS, RssAnon, RssFile, RssShmem */
static void
rss(int pid, long out[4])
{
    char   fn[64], line[256];
    FILE  *f;

    out[0] = out[1] = out[2] = out[3] = 0;

    snprintf(fn, sizeof(fn), "/proc/%d/status", pid);
    f = fopen(fn, "r");
    if (f == NULL) {
        return;
    }

    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            out[0] = atol(line + 6);
        } else if (strncmp(line, "RssAnon:", 8) == 0) {
            out[1] = atol(line + 8);
        } else if (strncmp(line, "RssFile:", 8) == 0) {
            out[2] = atol(line + 8);
        } else if (strncmp(line, "RssShmem:", 9) == 0) {
            out[3] = atol(line + 9);
        }
    }

    fclose(f);
}


/* pages of TCP memory (sockstat "TCP: ... mem N") */
static long
tcp_mem_pages(void)
{
    char   line[256], *p;
    FILE  *f;
    long   v = -1;

    f = fopen("/proc/net/sockstat", "r");
    if (f == NULL) {
        return -1;
    }

    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "TCP:", 4) == 0) {
            p = strstr(line, " mem ");
            if (p) {
                v = atol(p + 5);
            }
        }
    }

    fclose(f);

    return v;
}


/* open files of a process */
static long
count_fds(int pid)
{
    char            fn[64];
    long            n = 0;
    DIR            *d;
    struct dirent  *e;

    snprintf(fn, sizeof(fn), "/proc/%d/fd", pid);
    d = opendir(fn);
    if (d == NULL) {
        return -1;
    }

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }

    closedir(d);

    return n;
}


static void
print_mem(const char *tag)
{
    int   i;
    long  m[4], sum[4] = { 0, 0, 0, 0 };

    for (i = 0; i < npids; i++) {
        rss(pids[i], m);
        printf("RESULT %s_rss_kb_%d=%ld %ld %ld %ld\n", tag, i, m[0], m[1],
               m[2], m[3]);
        sum[0] += m[0];
        sum[1] += m[1];
        sum[2] += m[2];
        sum[3] += m[3];
    }

    printf("RESULT %s_vmrss_kb=%ld\n", tag, sum[0]);
    printf("RESULT %s_rssanon_kb=%ld\n", tag, sum[1]);
    printf("RESULT %s_rssfile_kb=%ld\n", tag, sum[2]);
    printf("RESULT %s_rssshmem_kb=%ld\n", tag, sum[3]);
    printf("RESULT %s_tcp_mem_pages=%ld\n", tag, tcp_mem_pages());

    for (i = 0; i < npids; i++) {
        printf("RESULT %s_fds_%d=%ld\n", tag, i, count_fds(pids[i]));
    }
}


static void
fail(conn_t *c, const char *why)
{
    if (first_fail[0] == '\0') {
        snprintf(first_fail, sizeof(first_fail), "%.150s", why);
    }
    if (c->fd != -1) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = 5;
    failed++;
}


static void
start(conn_t *c)
{
    int  s;

    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s == -1) {
        c->fd = -1;
        fail(c, strerror(errno));
        return;
    }

    c->fd = s;
    c->hlen = 0;

    if (connect(s, (struct sockaddr *) &dst, sizeof(dst)) == -1
        && errno != EINPROGRESS)
    {
        fail(c, strerror(errno));
        return;
    }

    c->state = 1;
}


static void
send_request(conn_t *c)
{
    char  req[2048];
    int   n, k, err = 0;
    socklen_t  el = sizeof(err);

    (void) getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        fail(c, strerror(err));
        return;
    }

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n", path, addr_s);
    for (k = 0; k < nheaders; k++) {
        n += snprintf(req + n, sizeof(req) - n, "%s\r\n", headers[k]);
    }
    n += snprintf(req + n, sizeof(req) - n, "\r\n");

    if (write(c->fd, req, n) != n) {
        fail(c, "write of the upgrade request");
        return;
    }

    c->state = 2;
}


static void
read_handshake(conn_t *c)
{
    ssize_t  n;
    char    *end;

    n = read(c->fd, c->hbuf + c->hlen, sizeof(c->hbuf) - 1 - c->hlen);
    if (n <= 0) {
        if (n == -1 && errno == EAGAIN) {
            return;
        }
        fail(c, "closed during the handshake");
        return;
    }

    c->hlen += n;
    c->hbuf[c->hlen] = '\0';

    end = strstr(c->hbuf, "\r\n\r\n");
    if (end == NULL) {
        if (c->hlen == sizeof(c->hbuf) - 1) {
            fail(c, "upgrade answer too long");
        }
        return;
    }

    if (strncmp(c->hbuf, "HTTP/1.1 101", 12) != 0) {
        c->hbuf[strcspn(c->hbuf, "\r\n")] = '\0';
        fail(c, c->hbuf);
        return;
    }

    /* anything after the headers would be frames: none expected yet */
    c->state = 3;
    opened++;
}


static void
ws_send(int fd, int opcode, const unsigned char *data, size_t len)
{
    unsigned char  f[140];

    if (len > 125) {
        len = 125;
    }

    f[0] = (unsigned char) (0x80 | opcode);
    f[1] = (unsigned char) (0x80 | len);
    memset(f + 2, 0, 4);
    memcpy(f + 6, data, len);
    (void) write(fd, f, 6 + len);
}


/* reads and counts frames; small frames only are expected */
static void
read_frames(conn_t *c)
{
    unsigned char  buf[8192], *p;
    ssize_t        n;
    size_t         used, pl, hl;
    int            op;

    n = read(c->fd, buf, sizeof(buf));

    if (n <= 0) {
        if (n == -1 && errno == EAGAIN) {
            return;
        }
        close(c->fd);
        c->fd = -1;
        c->state = 4;
        server_closed++;
        return;
    }

    /* frames are assumed not to be split between reads (they are small
     * and come one at a time); a split one is counted once anyway */
    used = 0;

    while (used + 2 <= (size_t) n) {
        p = buf + used;
        op = p[0] & 0x0f;
        pl = p[1] & 0x7f;
        hl = 2;
        if (pl == 126 && used + 4 <= (size_t) n) {
            pl = ((size_t) p[2] << 8) | p[3];
            hl = 4;
        } else if (pl == 127) {
            break;
        }

        frames++;

        if (op == 1) {
            text_frames++;
        } else if (op == 9) {
            pings++;
            if (used + hl + pl <= (size_t) n) {
                ws_send(c->fd, 10, p + hl, pl);
            }
        } else if (op == 8) {
            ws_send(c->fd, 8, p + hl, pl >= 2 ? 2 : 0);
            close(c->fd);
            c->fd = -1;
            c->state = 4;
            server_closed++;
            return;
        }

        used += hl + pl;
    }
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: dpidle -a HOST:PORT -P PATH [-H HEADER]... -c CONNS\n"
        "         -d HOLD_SECONDS -p PID[,PID...] [-k CONCURRENCY]\n"
        "         [-s SETTLE_SECONDS]\n");
    exit(1);
}


int
main(int argc, char **argv)
{
    int        o, i, n;
    long       k, next, pending;
    char      *colon, *tok;
    uint64_t   t0, t1, t2, deadline, cpu0[MAX_PIDS], cpu1[MAX_PIDS];
    uint64_t   cpu_sum;
    int        ep;
    struct epoll_event  ev, evs[256];

    while ((o = getopt(argc, argv, "a:P:H:c:d:p:k:s:")) != -1) {
        switch (o) {
        case 'a': addr_s = optarg; break;
        case 'P': path = optarg; break;
        case 'H':
            if (nheaders < 8) {
                headers[nheaders++] = optarg;
            }
            break;
        case 'c': nconns = atol(optarg); break;
        case 'd': hold = atof(optarg); break;
        case 'k': concurrency = atol(optarg); break;
        case 's': settle = atof(optarg); break;
        case 'p':
            for (tok = strtok(optarg, ","); tok && npids < MAX_PIDS;
                 tok = strtok(NULL, ","))
            {
                pids[npids++] = atoi(tok);
            }
            break;
        default: usage();
        }
    }

    if (nconns < 1 || npids == 0) {
        usage();
    }

    setvbuf(stdout, NULL, _IOLBF, 0);

    {
        char  a[64];

        snprintf(a, sizeof(a), "%s", addr_s);
        colon = strrchr(a, ':');
        if (colon == NULL) {
            usage();
        }
        *colon = '\0';
        memset(&dst, 0, sizeof(dst));
        dst.sin_family = AF_INET;
        dst.sin_port = htons(atoi(colon + 1));
        if (inet_pton(AF_INET, a, &dst.sin_addr) != 1) {
            usage();
        }
    }

    conns = calloc(nconns, sizeof(conn_t));
    pfd = calloc(nconns, sizeof(struct pollfd));
    if (conns == NULL || pfd == NULL) {
        fprintf(stderr, "dpidle: out of memory\n");
        return 2;
    }

    print_mem("before");

    /* connect, at most `concurrency` handshakes under way */
    t0 = now_ns();
    deadline = t0 + 60000000000ULL;
    next = 0;

    for ( ;; ) {
        pending = 0;
        for (k = 0; k < next; k++) {
            if (conns[k].state == 1 || conns[k].state == 2) {
                pending++;
            }
        }

        while (next < nconns && pending < concurrency) {
            start(&conns[next]);
            if (conns[next].state == 1) {
                pending++;
            }
            next++;
        }

        if (pending == 0 && next == nconns) {
            break;
        }

        if (now_ns() > deadline) {
            for (k = 0; k < nconns; k++) {
                if (conns[k].state == 1 || conns[k].state == 2) {
                    fail(&conns[k], "timed out connecting");
                }
            }
            break;
        }

        n = 0;
        for (k = 0; k < next; k++) {
            if (conns[k].state == 1 || conns[k].state == 2) {
                pfd[n].fd = conns[k].fd;
                pfd[n].events = conns[k].state == 1 ? POLLOUT : POLLIN;
                pfd[n].revents = 0;
                n++;
            }
        }

        (void) poll(pfd, n, 100);

        n = 0;
        for (k = 0; k < next; k++) {
            if (conns[k].state == 1 || conns[k].state == 2) {
                if (pfd[n].revents) {
                    if (conns[k].state == 1) {
                        send_request(&conns[k]);
                    } else {
                        read_handshake(&conns[k]);
                    }
                }
                n++;
            }
        }
    }

    t1 = now_ns();
    printf("RESULT connect_s=%.3f\n", (t1 - t0) / 1e9);
    printf("RESULT opened=%ld\n", opened);
    printf("RESULT failed=%ld\n", failed);
    if (first_fail[0]) {
        printf("RESULT first_fail=%s\n", first_fail);
    }

    /* settle (reading whatever comes), then measure */
    deadline = now_ns() + (uint64_t) (settle * 1e9);

    ep = epoll_create1(0);
    if (ep == -1) {
        fprintf(stderr, "dpidle: epoll_create1: %s\n", strerror(errno));
        return 2;
    }

    for (k = 0; k < nconns; k++) {
        if (conns[k].state == 3) {
            ev.events = EPOLLIN;
            ev.data.u64 = (uint64_t) k;
            (void) epoll_ctl(ep, EPOLL_CTL_ADD, conns[k].fd, &ev);
        }
    }

    for (i = 0; i < 2; i++) {
        for ( ;; ) {
            t2 = now_ns();
            if (t2 >= deadline) {
                break;
            }

            n = epoll_wait(ep, evs, 256,
                           (int) ((deadline - t2) / 1000000) + 1);

            for (o = 0; o < n; o++) {
                k = (long) evs[o].data.u64;
                if (conns[k].state == 3) {
                    read_frames(&conns[k]);
                }
            }
        }

        if (i == 0) {
            print_mem("open");
            printf("RESULT open_now=%ld\n", opened - server_closed);
            for (k = 0; k < npids; k++) {
                cpu0[k] = cpu_ns(pids[k]);
            }
            frames = text_frames = pings = 0;
            t1 = now_ns();
            deadline = t1 + (uint64_t) (hold * 1e9);
        }
    }

    t2 = now_ns();
    cpu_sum = 0;
    for (k = 0; k < npids; k++) {
        cpu1[k] = cpu_ns(pids[k]);
        cpu_sum += cpu1[k] - cpu0[k];
        printf("RESULT cpu_ms_%ld=%.3f\n", k, (cpu1[k] - cpu0[k]) / 1e6);
    }

    printf("RESULT hold_s=%.3f\n", (t2 - t1) / 1e9);
    printf("RESULT cpu_ms=%.3f\n", cpu_sum / 1e6);
    printf("RESULT frames=%ld\n", frames);
    printf("RESULT text_frames=%ld\n", text_frames);
    printf("RESULT pings=%ld\n", pings);
    printf("RESULT server_closed=%ld\n", server_closed);
    printf("RESULT still_open=%ld\n", opened - server_closed);

    print_mem("end");

    for (k = 0; k < nconns; k++) {
        if (conns[k].fd != -1 && conns[k].state == 3) {
            ws_send(conns[k].fd, 8, (const unsigned char *) "\x03\xe8", 2);
            close(conns[k].fd);
        }
    }

    return 0;
}
