#!/usr/bin/perl
# /from streams with real data (a device attached by RADIUS accounting,
# datagrams to the UDP uplink): one unmasked text frame per message, the
# keep-alive wait starting anew with every message, a slow reader closed
# with 1008 while messages flow, and streams that vanish mid-flow.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64);
use Time::HiRes ();
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::WebSocket;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'ws-data-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $slow_port = IoT::Test::free_port('tcp');
my $small_port = IoT::Test::free_port('tcp');

my $t = IoT::Test->new(
    stream_conf => <<"EOF",
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport rcvbuf=1m; iot_uplink; }
EOF
    location => <<'EOF',
location / { iot_api collections; }
location /ka/ { iot_api collections; iot_ws_keepalive 1s; }
EOF
    http_conf => <<"EOF",
    server {
        listen 127.0.0.1:$slow_port sndbuf=4k;
        location / {
            iot_api collections;
            iot_ws_keepalive 0;
            iot_ws_send_buffer 16k;
            lingering_timeout 30s;
        }
    }
    server {
        listen 127.0.0.1:$small_port;
        location / {
            iot_api collections;
            iot_ws_keepalive 0;
            iot_ws_send_buffer 16k;
        }
    }
EOF
);
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my $D = $api->create_device($cid);
my $did = $D->{deviceId};
my $ADDR = '127.0.0.20';
my ($exit, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = $ADDR, "
    . "3GPP-IMSI = \"$D->{imsi}\", Acct-Session-Id = \"ws1\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device is attached');

# one socket, so one source port: reuseport hands all of its datagrams to
# the same worker, which publishes them in the order they were sent
my $dev_sock = IO::Socket::INET->new(LocalAddr => $ADDR, LocalPort => 0,
                                     Proto => 'udp') or die $!;
my $to = pack_sockaddr_in($up, inet_aton('127.0.0.1'));

sub uplink {
    my ($payload) = @_;
    $dev_sock->send($payload, 0, $to);
}

sub ws {
    my ($path, %o) = @_;
    return IoT::WebSocket->connect(port => $o{port} // $t->port,
                                   path => $path, token => $t->admin_token,
                                   %o);
}

# the next data message on a stream (keep-alives skipped), or undef
sub next_data {
    my ($ws, $timeout) = @_;
    while (my $f = $ws->recv_frame($timeout)) {
        next if $f->{payload} =~ /"keepAlive"/;
        return $f;
    }
    return undef;
}

# ------------------------------------------------------------ data frames

{
    my $all = ws("/collections/$cid/from");
    my $one = ws("/collections/$cid/devices/$did/from");
    ok($all->upgraded && $one->upgraded, 'collection and device streams');

    uplink("hello \x00\xff");

    for my $s ([$all, 'collection'], [$one, 'device']) {
        my $f = next_data($s->[0]);
        ok($f && $f->{opcode} == 1 && $f->{fin} && !$f->{masked}
           && !$f->{rsv}, "$s->[1] stream: one unmasked text frame");
        my $m = json_decode($f ? $f->{payload} : '');
        is($m && $m->{type}, 'data', "$s->[1] stream: a data message");
        is($m && decode_base64($m->{payload}), "hello \x00\xff",
           "$s->[1] stream: the payload");
        is($m && $m->{device}{deviceId}, $did, "$s->[1] stream: the device");
    }

    uplink('x' x 2000);
    my $f = next_data($all);
    my $m = json_decode($f ? $f->{payload} : '');
    is($m && length(decode_base64($m->{payload})), 2000,
       'a datagram of 2000 bytes: a frame with a 16-bit length');

    $all->send_close(1000);
    $one->send_close(1000);
    ok($all->wait_close && $one->wait_close, 'both closed on request');
    $_->close for $all, $one;
}

# ------------------------------------------------------------ keep-alive

{
    my $ws = ws("/ka/collections/$cid/from");
    ok($ws->upgraded, 'keep-alive 1s: open');

    my ($data, $ka) = (0, 0);
    for my $n (1 .. 25) {
        uplink("tick $n");
        Time::HiRes::sleep(0.1);
        while (my $f = $ws->recv_frame(0.01)) {
            $f->{payload} =~ /"keepAlive"/ ? $ka++ : $data++;
        }
    }
    while (my $f = $ws->recv_frame(5)) {
        if ($f->{payload} =~ /"keepAlive"/) {
            $ka++;
            last;
        }
        $data++;
    }
    is($data, 25, 'keep-alive 1s: 25 messages, 100ms apart');
    is($ka, 1, 'keep-alive 1s: no keep-alive while they flow, ' .
               'one once they stop');
    $ws->close;
}

# ------------------------------------------------------------ slow reader

{
    my $ws = ws("/collections/$cid/from", port => $slow_port,
                rcvbuf => 2048);
    ok($ws->upgraded, 'slow reader: open');

    # about 560k of messages for a client that reads nothing
    for my $n (1 .. 200) {
        uplink(sprintf('%04d', $n) . ('s' x 1996));
        Time::HiRes::sleep(0.001) if $n % 20 == 0;
    }
    sleep 1;

    my $c = $ws->wait_close(30);
    ok($c, 'slow reader: a close frame after what was queued');
    is($c && $c->{code}, 1008, 'slow reader: 1008');
    like($c ? $c->{reason} : '', qr/slow/, 'slow reader: the reason');

    my @seq = map { decode_base64(json_decode($_->{payload})->{payload}) }
              grep { $_->{opcode} == 1 } @{ $c ? $c->{skipped} : [] };
    @seq = map { substr($_, 0, 4) + 0 } @seq;
    ok(@seq > 0 && @seq < 200, 'slow reader: some messages came, not all')
        or diag(scalar @seq);
    ok(!(grep { $seq[$_] != $seq[$_ - 1] + 1 } 1 .. $#seq),
       'slow reader: in order, none missing before the close');

    $ws->send_close(1000);
    ok($ws->wait_eof, 'slow reader: closed');
    $ws->close;
}

# ---------------------------------------------- a burst, a reading client

# Frames handed over in one event loop turn are written together; what is
# gathered never counts against iot_ws_send_buffer as a slow reader's
# queue does: a burst far larger than the buffer reaches a client that
# reads, whole and in order.
{
    my $ws = ws("/collections/$cid/from", port => $small_port);
    ok($ws->upgraded, 'burst: open');
    for my $n (1 .. 100) {
        uplink(sprintf('%04d', $n) . ('b' x 996));
        # the uplink's receive buffer (1m) holds them all, even under valgrind
        Time::HiRes::sleep(0.001) if $n % 20 == 0;
    }
    my @seq;
    while (@seq < 100) {
        my $f = next_data($ws, 10) or last;
        if ($f->{opcode} != 1) { diag("frame $f->{opcode}: " . substr($f->{payload}, 0, 60)); last }
        push @seq, substr(decode_base64(json_decode($f->{payload})->{payload}),
                          0, 4) + 0;
    }
    is_deeply(\@seq, [ 1 .. 100 ],
              'burst: 136k of frames past a 16k send buffer, all in order');
    $ws->send_close(1000);
    ok($ws->wait_close, 'burst: closed on request');
    $ws->close;
}

# ------------------------------------------------------------ churn

{
    my @ws = map { ws("/collections/$cid/from") } 1 .. 20;
    ok(!(grep { !$_->upgraded } @ws), 'churn: 20 streams');
    for my $n (1 .. 50) {
        uplink("churn $n");
        if ($n == 25) {
            # half of them vanish mid-flow, some with a close frame
            $_->send_close(1000) for @ws[0 .. 4];
            $_->close for @ws[0 .. 9];
        }
    }
    my $ok = 1;
    for my $s (@ws[10 .. 19]) {
        my @got;
        while (@got < 50) {
            my $f = next_data($s, 10) or last;
            push @got, decode_base64(json_decode($f->{payload})->{payload});
        }
        $ok &&= @got == 50
                && !(grep { $got[$_ - 1] ne "churn $_" } 1 .. 50);
        diag("got: @got") unless $ok;
        $s->close;
    }
    ok($ok, 'churn: the 10 remaining streams got all 50, in order');
}

$t->check_log('data');
$t->finish;
done_testing;
