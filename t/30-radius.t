#!/usr/bin/perl

# NB-IoT attach over RADIUS with the real client, FreeRADIUS' radclient:
# Access-Request -> Accept / Reject, Accounting Start / Interim / Stop /
# On / Off, the device's network.allocatedIp over HTTP, several gateways
# with their own secrets and pools, Proxy-State, counters, reload.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius;

plan skip_all => 'radclient not installed (freeradius-utils)'
    unless -x $IoT::Radius::RADCLIENT;

my $auth = IoT::Test::free_port('udp');
my $acct = IoT::Test::free_port('udp');
my $sp = IoT::Test::free_port('tcp');

my $stream = <<"EOF";
    iot_radius_gateway name=pgw1 from=127.0.0.1 secret=s3cret-one
                       pool=10.64.0.0/24;
    iot_radius_gateway name=pgw2 from=127.0.0.3/32 secret=s3cret-two
                       pool=10.65.0.0/24;

    server { listen 127.0.0.1:$auth udp reuseport; iot_radius; }
    server { listen 127.0.0.1:$acct udp reuseport; iot_radius; }
    server { listen 127.0.0.1:$sp; return "\$iot_radius_stats"; }
EOF

my $t = IoT::Test->new(stream_conf => $stream);
my $api = IoT::Collections->new($t);
$t->start;

my $dir = $t->dir;

sub rc {
    my ($port, $type, $secret, $attrs, %o) = @_;
    my ($st, $out, $cmd) = IoT::Radius::radclient($port, $type, $secret,
                                                  $attrs, dir => $dir, %o);
    note("$cmd\n  stdin: $attrs\n$out");
    return ($st, $out);
}

# a datagram that must be dropped: waiting a second for silence is enough
sub rc_dropped {
    my (@a) = @_;
    return rc(@a, timeout => 1);
}

sub framed_ip {
    my ($out) = @_;
    return $out =~ /Framed-IP-Address = (\d+\.\d+\.\d+\.\d+)/ ? $1 : undef;
}

sub in_pool {
    my ($ip, $prefix) = @_;
    return 0 unless defined $ip;
    my @o = split /\./, $ip;
    return "$o[0].$o[1].$o[2]" eq $prefix && $o[3] > 0 && $o[3] < 255;
}

# ------------------------------------------------------------ devices

my ($st, $c) = $api->call(POST => '/collections', body => {});
is($st, 201, 'collection made');
my $cid = $c->{collectionId};

my %dev;
for my $n (1 .. 4) {
    my $imsi = sprintf('24201600000000%d', $n);
    ($st, my $d) = $api->call(POST => "/collections/$cid/devices",
                              body => { imsi => $imsi,
                                        imei => "35265610000000$n" });
    is($st, 201, "device $n made");
    $dev{$n} = { id => $d->{deviceId}, imsi => $imsi };
}

sub device {
    my ($n) = @_;
    my ($st, $d) = $api->call(GET => "/collections/$cid/devices/$dev{$n}{id}");
    return $d;
}

# ------------------------------------------------------------ Access

my ($x, $out) = rc($auth, 'auth', 's3cret-one',
                   qq{3GPP-IMSI = "$dev{1}{imsi}"});
is($x, 0, 'registered IMSI: radclient exits 0');
like($out, qr/Received Access-Accept/, 'registered IMSI: Access-Accept');
my $ip1 = framed_ip($out);
ok(in_pool($ip1, '10.64.0'), "Framed-IP-Address $ip1 is in pgw1's pool")
    or diag($out);
like($out, qr/Message-Authenticator = 0x[0-9a-f]{32}/,
     'the Accept carries a Message-Authenticator');

($x, $out) = rc($auth, 'auth', 's3cret-one',
                qq{3GPP-IMSI = "$dev{1}{imsi}"});
like($out, qr/Received Access-Accept/, 'second Access-Request: Accept');
is(framed_ip($out), $ip1, 'the same address again');

($x, $out) = rc($acct, 'auth', 's3cret-one',
                qq{3GPP-IMSI = "$dev{1}{imsi}", Message-Authenticator = 0x00});
like($out, qr/Received Access-Accept/,
     'on the other port, with a Message-Authenticator: Accept');
is(framed_ip($out), $ip1, 'the same address');

($x, $out) = rc($auth, 'auth', 's3cret-one',
                qq{3GPP-IMSI = "$dev{2}{imsi}",\n}
                . qq{3GPP-IMEISV = "3526561000000201",\n}
                . qq{3GPP-RAT-Type = 8,\n}
                . qq{Calling-Station-Id = "+4791234567",\n}
                . qq{Called-Station-Id = "iot.telenor",\n}
                . qq{NAS-IP-Address = 127.0.0.1,\n}
                . qq{NAS-Identifier = "pgw1.example",\n}
                . qq{User-Name = "$dev{2}{imsi}",\n}
                . qq{User-Password = "any"});
like($out, qr/Received Access-Accept/, 'a full 29.061 Access-Request: Accept');
my $ip2 = framed_ip($out);
ok(in_pool($ip2, '10.64.0'), "second device: $ip2 in the pool");
isnt($ip2, $ip1, 'another address than the first device');

($x, $out) = rc($auth, 'auth', 's3cret-one',
                qq{3GPP-IMSI = "242019999999999"});
isnt($x, 0, 'unknown IMSI: radclient exits non-zero');
like($out, qr/Received Access-Reject/, 'unknown IMSI: Access-Reject');
unlike($out, qr/Framed-IP-Address/, 'no address in a Reject');

($x, $out) = rc($auth, 'auth', 's3cret-one', qq{User-Name = "nobody"});
like($out, qr/Received Access-Reject/, 'no 3GPP-IMSI: Access-Reject');

($x, $out) = rc($auth, 'auth', 's3cret-one', qq{3GPP-IMSI = "2420A"});
like($out, qr/Received Access-Reject/, 'an IMSI that is not digits: Reject');

($x, $out) = rc($auth, 'auth', 's3cret-one',
                qq{3GPP-IMSI = "$dev{1}{imsi}", Proxy-State = 0x616263,\n}
                . qq{Proxy-State = 0x646566});
like($out, qr/Received Access-Accept/, 'with Proxy-State: Accept');
like($out, qr/Proxy-State = 0x616263.*Proxy-State = 0x646566/s,
     'both Proxy-State attributes are copied, in order');

# ------------------------------------------------------------ Accounting

my $acct_attrs = qq{Acct-Status-Type = Start,\n}
               . qq{Framed-IP-Address = $ip1,\n}
               . qq{3GPP-IMSI = "$dev{1}{imsi}",\n}
               . qq{3GPP-IMEISV = "3526561000000101",\n}
               . qq{Calling-Station-Id = "+47 912 34 567",\n}
               . qq{Acct-Session-Id = "s1"};

($x, $out) = rc($acct, 'acct', 's3cret-one', $acct_attrs);
is($x, 0, 'Start: radclient exits 0');
like($out, qr/Received Accounting-Response/, 'Start: Accounting-Response');

my $d = device(1);
is($d->{network}{allocatedIp}, $ip1,
   "after Start, network.allocatedIp is $ip1")
    or diag(json_encode($d));
ok($d->{network}{allocatedAt} > 0, 'network.allocatedAt is set');
is($d->{network}{msisdn}, '4791234567', 'the MSISDN, as digits')
    if exists $d->{network}{msisdn};

(my $interim = $acct_attrs) =~ s/= Start/= Interim-Update/;
($x, $out) = rc($acct, 'acct', 's3cret-one', $interim);
like($out, qr/Received Accounting-Response/, 'Interim-Update answered');
is(device(1)->{network}{allocatedIp}, $ip1, 'the address stays');

($x, $out) = rc($auth, 'acct', 's3cret-one', $acct_attrs);
like($out, qr/Received Accounting-Response/,
     'Start on the auth port is answered too');

(my $stop = $acct_attrs) =~ s/= Start/= Stop/;
$stop =~ s/"s1"/"other-session"/;
($x, $out) = rc($acct, 'acct', 's3cret-one', $stop);
like($out, qr/Received Accounting-Response/,
     'Stop naming another session: answered');

($stop = $acct_attrs) =~ s/= Start/= Stop/;
($x, $out) = rc($acct, 'acct', 's3cret-one', $stop);
like($out, qr/Received Accounting-Response/, 'Stop answered');

($x, $out) = rc($acct, 'acct', 's3cret-one',
                qq{Acct-Status-Type = Start, Framed-IP-Address = 10.64.0.200,\n}
                . qq{3GPP-IMSI = "242019999999999", Acct-Session-Id = "s9"});
like($out, qr/Received Accounting-Response/,
     'Start for an unknown IMSI: still answered (no endless retries)');

($x, $out) = rc($acct, 'acct', 's3cret-one',
                qq{Acct-Status-Type = Start, Acct-Session-Id = "s10"});
like($out, qr/Received Accounting-Response/,
     'Start without IMSI and address: answered');

($x, $out) = rc($acct, 'acct', 's3cret-one', $acct_attrs);
like($out, qr/Received Accounting-Response/, 'Start again');

for my $what (qw(Accounting-On Accounting-Off)) {
    ($x, $out) = rc($acct, 'acct', 's3cret-one',
                    qq{Acct-Status-Type = $what,\n}
                    . qq{NAS-IP-Address = 127.0.0.1});
    like($out, qr/Received Accounting-Response/, "$what answered");
}

($x, $out) = rc($acct, 'acct', 's3cret-one',
                qq{Acct-Status-Type = Failed, Acct-Session-Id = "s11"});
like($out, qr/Received Accounting-Response/,
     'another Acct-Status-Type (Failed): answered, ignored');

($x, $out) = rc($acct, 'acct', 's3cret-one',
                $acct_attrs . qq{,\nMessage-Authenticator = 0x00});
like($out, qr/Received Accounting-Response/,
     'Accounting-Request with a Message-Authenticator: answered');

# ------------------------------------------------------------ wrong secrets

($x, $out) = rc_dropped($acct, 'acct', 'not-the-secret', $acct_attrs);
isnt($x, 0, 'Accounting with a wrong secret: radclient fails');
like($out, qr/No reply/i, 'no reply at all');

($x, $out) = rc_dropped($auth, 'auth', 'not-the-secret',
                        qq{3GPP-IMSI = "$dev{1}{imsi}",\n}
                        . qq{Message-Authenticator = 0x00});
like($out, qr/No reply/i,
     'Access-Request with a Message-Authenticator of a wrong secret: no reply');

# ------------------------------------------------------------ two gateways

($x, $out) = rc($auth, 'auth', 's3cret-two',
                qq{Packet-Src-IP-Address = 127.0.0.3,\n}
                . qq{3GPP-IMSI = "$dev{3}{imsi}"});
like($out, qr/Received Access-Accept/, 'pgw2 (127.0.0.3): Accept');
my $ip3 = framed_ip($out);
ok(in_pool($ip3, '10.65.0'), "pgw2 hands out its own pool: $ip3");

($x, $out) = rc($acct, 'acct', 's3cret-two',
                qq{Packet-Src-IP-Address = 127.0.0.3,\n}
                . qq{Acct-Status-Type = Start, Framed-IP-Address = $ip3,\n}
                . qq{3GPP-IMSI = "$dev{3}{imsi}", Acct-Session-Id = "g2"});
like($out, qr/Received Accounting-Response/, 'pgw2: Start answered');
is(device(3)->{network}{allocatedIp}, $ip3, 'device 3 shows its address');

($x, $out) = rc_dropped($acct, 'acct', 's3cret-one',
                        qq{Packet-Src-IP-Address = 127.0.0.3,\n}
                        . qq{Acct-Status-Type = Start,\n}
                        . qq{Framed-IP-Address = $ip3,\n}
                        . qq{3GPP-IMSI = "$dev{3}{imsi}",\n}
                        . qq{Acct-Session-Id = "g2"});
like($out, qr/No reply/i, "pgw1's secret from pgw2's address: dropped");

($x, $out) = rc_dropped($acct, 'acct', 's3cret-two',
                        qq{Acct-Status-Type = Start,\n}
                        . qq{Framed-IP-Address = $ip1,\n}
                        . qq{3GPP-IMSI = "$dev{1}{imsi}",\n}
                        . qq{Acct-Session-Id = "s1"});
like($out, qr/No reply/i, "pgw2's secret from pgw1's address: dropped");

($x, $out) = rc_dropped($auth, 'auth', 's3cret-one',
                        qq{Packet-Src-IP-Address = 127.0.0.5,\n}
                        . qq{3GPP-IMSI = "$dev{1}{imsi}"});
like($out, qr/No reply/i, 'from an address of no gateway: dropped');

# ------------------------------------------------------------ counters

my $s = IoT::Radius::stats($sp);
ok($s, 'the counters can be read ($iot_radius_stats)') or diag('no stats');
is($s->{accessAccept}, 6, 'accessAccept counted');
is($s->{accessReject}, 3, 'accessReject counted');
is($s->{accountingResponse}, 13, 'accountingResponse counted');
is($s->{dropped}{badAuthenticator}, 3, 'bad Request Authenticators counted');
is($s->{dropped}{badMessageAuthenticator}, 1,
   'bad Message-Authenticators counted');
is($s->{dropped}{unknownSource}, 1, 'unknown sources counted');
is($s->{received}, 6 + 3 + 13 + 3 + 1 + 1, 'every datagram counted');

my $log = $t->log_slice;
like($log, qr/\[info\][^\n]*radius: datagram from an address of no/,
     'unknown source logged at info');
like($log, qr/\[info\][^\n]*Request Authenticator does not match[^\n]*dropped/,
     'a bad authenticator is logged at info with the reason');
like($log, qr/\[info\][^\n]*IMSI 242019999999999[^\n]*rejected/,
     'a rejected IMSI is logged');
like($log, qr/\[debug\][^\n]*radius: counters: received:\d+/,
     'counters in the debug log');
$t->check_log('radius');

# ------------------------------------------------------------ reload

$t->reload;

($x, $out) = rc($auth, 'auth', 's3cret-one',
                qq{3GPP-IMSI = "$dev{1}{imsi}"});
like($out, qr/Received Access-Accept/, 'after a reload: Accept');
is(framed_ip($out), $ip1, 'still the same address');

$s = IoT::Radius::stats($sp);
is($s->{accessAccept}, 7, 'the counters survive a reload');

$t->finish;
done_testing;
