#!/usr/bin/perl
# The NB-IoT data plane end to end with real peers: radclient attaches a
# device (Accounting Start), the device sends UDP datagrams from its address,
# they are stored as history (GET .../data) and a downlink comes back to the
# device's socket from the uplink port.  Unknown sources, oversized
# datagrams, Stop, Accounting-On and a restart are covered too.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use IO::Socket::IP;
use IO::Select;
use MIME::Base64 qw(encode_base64 decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'uplink-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $stats = IoT::Test::free_port('tcp');

# an IPv6 uplink listener too, where the machine has IPv6 on loopback
my $up6 = eval {
    my $s = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0,
                                Proto => 'udp');
    $s ? $s->sockport : undef;
};
my $listen6 = $up6 ? "server { listen [::1]:$up6 udp; iot_uplink; }" : '';

my $t = IoT::Test->new(workers => 2, stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
    $listen6
    server { listen 127.0.0.1:$stats; return "\$iot_uplink_stats"; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

sub counters {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $stats,
                                  Proto => 'tcp', Timeout => 10) or return {};
    local $/;
    my $text = <$s>;
    return json_decode($text // '') // {};
}


my ($st, $C) = $api->call(POST => '/collections', body => {});
is($st, 201, 'collection');
my $cid = $C->{collectionId};

my @dev;
for my $i (0 .. 1) {
    my ($s, $d) = $api->call(POST => "/collections/$cid/devices",
                             body => { imsi => $t->next_imsi,
                                       imei => $t->next_imei });
    is($s, 201, "device $i");
    push @dev, $d;
}

sub acct {
    my ($type, $addr, $imsi, $sid, $extra) = @_;
    my $attrs = "Acct-Status-Type = $type, Acct-Session-Id = \"$sid\"";
    $attrs .= ", Framed-IP-Address = $addr" if $addr;
    $attrs .= ", 3GPP-IMSI = \"$imsi\"" if $imsi;
    $attrs .= ", $extra" if $extra;
    my ($exit, $out) = radclient($acct, 'acct', $SECRET, $attrs,
                                 dir => $t->dir);
    return $out =~ /Received Accounting-Response/;
}

sub device_socket {
    my ($addr) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 0,
                                  Proto => 'udp');
    die "bind $addr: $!" unless $s;
    return $s;
}

sub data {
    my ($path, $query) = @_;
    my ($s, $j) = $api->call(GET => "$path/data" . ($query // ''));
    return ($s, $j ? $j->{messages} : undef);
}

# ---- attach: the address now means the device
ok(acct('Start', '127.0.0.2', $dev[0]{imsi}, 'sess-a',
        '3GPP-IMEISV = "3534567890123401", Calling-Station-Id = "4790000001"'),
   'Accounting Start answered');

my ($gs, $G) = $api->call(GET => "/collections/$cid/devices/$dev[0]{deviceId}");
is($G->{network}{allocatedIp}, '127.0.0.2', 'the device has its address');
is($G->{network}{imeisv}, '3534567890123401', '... its IMEISV');
is($G->{network}{msisdn}, '4790000001', '... its MSISDN');
ok($G->{network}{allocatedAt} > 0, '... and when it got it');

# ---- uplink
my $d0 = device_socket('127.0.0.2');
my @sent = map { "reading $_ \x00\xff" } 1 .. 5;
for my $p (@sent) {
    $d0->send($p, 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
    select(undef, undef, undef, 0.01);
}

# history is written within a few milliseconds
my $msgs;
ok(IoT::Test::wait_until(sub {
    (undef, $msgs) = data("/collections/$cid");
    return $msgs && @$msgs == 5;
}, 10), 'five messages in the collection history');

is_deeply([ map { decode_base64($_->{payload}) } @$msgs ], [ reverse @sent ],
          'payloads intact, newest first');
my $m = $msgs->[0];
is($m->{type}, 'data', 'type data');
is($m->{transport}, 'udp', 'transport udp');
is($m->{udpMetaData}{localPort}, $up, 'udpMetaData.localPort is the listener');
is($m->{udpMetaData}{remotePort}, $d0->sockport, 'udpMetaData.remotePort');
is($m->{device}{deviceId}, $dev[0]{deviceId}, 'the device is in the message');
ok($m->{received} >= $msgs->[-1]{received}, 'received in ms, newest first');

my ($ds, $dm) = data("/collections/$cid/devices/$dev[0]{deviceId}");
is(scalar @$dm, 5, 'the device history has them');
($ds, $dm) = data("/collections/$cid/devices/$dev[1]{deviceId}");
is_deeply($dm, [], 'the other device has none');

(undef, $dm) = data("/collections/$cid", '?limit=2');
is(scalar @$dm, 2, 'limit=2');
is_deeply([ map { $_->{payload} } @$dm ],
          [ map { $_->{payload} } @$msgs[0, 1] ], '... the newest two');
(undef, $dm) = data("/collections/$cid", '?limit=0');
is(scalar @$dm, 5, 'limit=0: all');

my $mid = $msgs->[2]{received};
(undef, $dm) = data("/collections/$cid", "?since=$mid&until=$mid");
ok(@$dm >= 1 && !(grep { $_->{received} != $mid } @$dm),
   'since and until are inclusive');
(undef, $dm) = data("/collections/$cid", '?since=' . ($msgs->[0]{received} + 1));
is_deeply($dm, [], 'since after the newest: none');
(undef, $dm) = data("/collections/$cid", '?until=9223372036854775807');
is(scalar @$dm, 5, 'until at the end of time: all');
(undef, $dm) = data("/collections/$cid/devices/$dev[0]{deviceId}",
                    '?until=9223372036854775807&limit=0');
is(scalar @$dm, 5, '... for the device too');

for my $q ('?since=abc', '?until=-5', '?limit=x') {
    my @r = $api->call(GET => "/collections/$cid/data$q");
    is_error(\@r, 400, "bad query $q");
}
my @r = $api->call(GET => "/collections/0000000000001/data");
is_error(\@r, 404, 'history of an unknown collection');

# ---- what is dropped
my $n0 = scalar @$msgs;
my $stranger = device_socket('127.0.0.9');
$stranger->send('who am i', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
$d0->send('x' x 2049, 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
$d0->send('after', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
ok(IoT::Test::wait_until(sub {
    (undef, $msgs) = data("/collections/$cid", '?limit=0');
    return $msgs && @$msgs == $n0 + 1;
}, 10), 'only the datagram from the device counts');
is(decode_base64($msgs->[0]{payload}), 'after', '... the later one');
ok(!(grep { decode_base64($_->{payload}) eq 'who am i' } @$msgs),
   'a datagram from an unknown address is not stored');
my $c = counters();
is($c->{unknown}, 1, '$iot_uplink_stats counts it as unknown');

SKIP: {
    skip 'no IPv6 on loopback', 2 unless $up6;
    # no device has an IPv6 address (RADIUS hands out IPv4 ones)
    my $s6 = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $up6,
                                 Proto => 'udp') or die "::1: $!";
    $s6->send('from ipv6');
    ok(IoT::Test::wait_until(sub { (counters()->{unknown} // 0) == 2 }, 10),
       'a datagram from an IPv6 address no device has counts as unknown');
    (undef, $msgs) = data("/collections/$cid", '?limit=0');
    ok(!(grep { decode_base64($_->{payload}) eq 'from ipv6' } @$msgs),
       '... and is not stored');
    $c = counters();
}
is($c->{large}, 1, '... and the one over 2048 bytes as large');
is($c->{received}, $n0 + 1, '... and the messages taken in');

# ---- downlink: from the uplink port to the device's address
my $sel = IO::Select->new($d0);
my ($ps, $pj, $ph, $praw) = $api->call(POST => "/collections/$cid/devices/$dev[0]{deviceId}/to",
    body => { port => $d0->sockport, payload => encode_base64("down\x00link", '') });
is($ps, 204, 'downlink answered 204');
ok($sel->can_read(5), 'the device got a datagram');
my $from = $d0->recv(my $buf, 4096, 0);
is($buf, "down\x00link", '... the payload');
my ($fport) = sockaddr_in($from);
is($fport, $up, '... from the uplink port');

@r = $api->call(POST => "/collections/$cid/devices/$dev[1]{deviceId}/to",
                body => { port => 4000, payload => 'aGk=' });
is_error(\@r, 409, 'downlink to a device without an address');
for my $b ({ port => 0, payload => 'aGk=' }, { port => 70000, payload => 'aGk=' },
           { port => '5', payload => 'aGk=' }, { port => 5 },
           { port => 5, payload => '%%%' }, { port => 5, payload => '' },
           { port => 5, payload => encode_base64('x' x 2049, '') },
           { port => 5, payload => 'aGk=', transport => 'carrier-pigeon' },
           { port => 5, payload => 'aGk=', transport => 'coap-pull' }) {
    @r = $api->call(POST => "/collections/$cid/devices/$dev[0]{deviceId}/to",
                    body => $b);
    is_error(\@r, 400, 'bad downlink ' . json_encode($b));
}
ok(!$sel->can_read(0.3), 'no datagram for the refused requests');

my ($bs, $B) = $api->call(POST => "/collections/$cid/to",
                          body => { port => $d0->sockport, payload => 'YWxs' });
is($bs, 200, 'collection downlink');
is($B->{sent}, 1, '... sent to the attached device');
is($B->{failed}, 1, '... failed for the other');
is_deeply($B->{errors}, [ { deviceId => $dev[1]{deviceId},
                            message => 'the device has no known address' } ],
          '... which is named');
ok($sel->can_read(5), 'the attached device got it');
$d0->recv($buf, 4096, 0);
is($buf, 'all', '... the payload');

# ---- the map survives a restart; Stop and Accounting-On end it
$t->restart;
$d0->send('after restart', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
ok(IoT::Test::wait_until(sub {
    (undef, $msgs) = data("/collections/$cid", '?limit=1');
    return $msgs && @$msgs && decode_base64($msgs->[0]{payload}) eq 'after restart';
}, 10), 'the address still means the device after a restart');

ok(acct('Stop', '127.0.0.2', $dev[0]{imsi}, 'another-session'),
   'a Stop for another session is answered');
$d0->send('still mapped', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
ok(IoT::Test::wait_until(sub {
    (undef, $msgs) = data("/collections/$cid", '?limit=1');
    return $msgs && @$msgs && decode_base64($msgs->[0]{payload}) eq 'still mapped';
}, 10), '... and does not end this one');

ok(acct('Stop', '127.0.0.2', $dev[0]{imsi}, 'sess-a'), 'Stop answered');
$d0->send('after stop', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));

ok(acct('Start', '127.0.0.3', $dev[1]{imsi}, 'sess-b'), 'second device attached');
my $d1 = device_socket('127.0.0.3');
$d1->send('second', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
ok(IoT::Test::wait_until(sub {
    (undef, $msgs) = data("/collections/$cid", '?limit=1');
    return $msgs && @$msgs && decode_base64($msgs->[0]{payload}) eq 'second';
}, 10), 'the second device is heard');
(undef, $msgs) = data("/collections/$cid", '?limit=0');
ok(!(grep { decode_base64($_->{payload}) eq 'after stop' } @$msgs),
   'after Stop the first address means nothing');

ok(acct('Accounting-On', undef, undef, 'on'), 'Accounting-On answered');
$d1->send('after on', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
$d1->send('x', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
sleep 1;
(undef, $msgs) = data("/collections/$cid", '?limit=0');
ok(!(grep { decode_base64($_->{payload}) eq 'after on' } @$msgs),
   'Accounting-On ended the gateway\'s sessions');

$t->check_log('uplink');
$t->finish;
done_testing;
