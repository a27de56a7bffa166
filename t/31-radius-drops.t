#!/usr/bin/perl

# RADIUS byte by byte, with a raw client (t/lib/IoT/Radius.pm): the reply's
# authenticators, malformed and garbage datagrams dropped and counted with
# nginx still answering, unknown sources, unsupported codes, bad
# authenticators, require_message_authenticator, EAP, retransmissions
# answered from the cache with the very same bytes.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(packet imsi vsa3gpp attr ip parse_reply);
use IO::Select;

my $port = IoT::Test::free_port('udp');
my $sp = IoT::Test::free_port('tcp');

my $t = IoT::Test->new(stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.1 secret=s3cret
                       pool=10.64.0.0/24;
    iot_radius_gateway name=strict from=127.0.0.4 secret=strict-secret
                       pool=10.66.0.0/24 require_message_authenticator=on;

    server { listen 127.0.0.1:$port udp reuseport; iot_radius; }
    server { listen 127.0.0.1:$sp; return "\$iot_radius_stats"; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $S = 's3cret';

my ($st, $c) = $api->call(POST => '/collections', body => {});
my $cid = $c->{collectionId};

my %imsi;
my %did;
for my $n (1 .. 3) {
    $imsi{$n} = "24201700000000$n";
    ($st, my $d) = $api->call(POST => "/collections/$cid/devices",
                              body => { imsi => $imsi{$n},
                                        imei => "35265620000000$n" });
    is($st, 201, "device $n made");
    $did{$n} = $d->{deviceId};
}

sub stats { IoT::Radius::stats($sp) }

# waits until a counter reaches a value (datagrams are not answered, so
# there is nothing else to wait for)
sub counter_is {
    my ($path, $want, $name) = @_;
    my $got;
    wait_until(sub {
        my $s = stats() or return 0;
        $got = $s;
        $got = $got->{$_} for split /\./, $path;
        return defined $got && $got >= $want;
    });
    is($got, $want, $name);
}

sub xchg {
    my ($sock, $pkt, $timeout) = @_;
    return IoT::Radius::exchange($sock, $port, $pkt, $timeout);
}

my $sock = IoT::Radius::udp_socket();

# No reply to $bad: a valid Access-Request sent right after it on the same
# socket (so to the same worker, in order) gets the first datagram back.
my $probe_id = 100;
sub silent {
    my ($s, $secret, $bad, $name, %o) = @_;
    xchg($s, $bad, 0);
    my $id = $probe_id++;
    my $probe = packet(code => 1, id => $id, secret => $secret,
                       ma => $o{ma}, attrs => [imsi($o{imsi} // $imsi{1})]);
    my $r = parse_reply(xchg($s, $probe), $probe, $secret);
    ok($r && $r->{id} == $id && $r->{auth_ok}, "$name: no reply");
}

# ---------------------------------------------------------------- replies

my $req = packet(code => 1, id => 1, secret => $S,
                 attrs => [imsi($imsi{1})]);
my $r = parse_reply(xchg($sock, $req), $req, $S);
ok($r, 'a raw Access-Request is answered');
is($r->{code}, 2, 'Access-Accept');
is($r->{id}, 1, 'with the request\'s identifier');
ok($r->{auth_ok}, 'Response Authenticator = MD5(code+id+len+request '
   . 'authenticator+attributes+secret)');
ok($r->{ma_ok}, 'the Message-Authenticator is right');
ok($r->{ma_first}, 'and it is the first attribute');
like($r->{framed_ip} // '', qr/^10\.64\.0\.\d+$/, 'a Framed-IP-Address');
my $ip1 = $r->{framed_ip};

$req = packet(code => 1, id => 2, secret => $S, ma => 1,
              attrs => [imsi($imsi{1})]);
$r = parse_reply(xchg($sock, $req), $req, $S);
is($r->{code}, 2, 'with a Message-Authenticator: Accept');
ok($r->{auth_ok} && $r->{ma_ok}, 'both authenticators right');
is($r->{framed_ip}, $ip1, 'the same address');

$req = packet(code => 1, id => 3, secret => $S,
              attrs => [imsi($imsi{1})]) . "padding";
$r = parse_reply(xchg($sock, $req), $req, $S);
is($r->{code}, 2, 'octets past the Length field are ignored as padding');

$req = packet(code => 4, id => 4, secret => $S,
              attrs => [[40, pack('N', 1)], [8, ip($ip1)], imsi($imsi{1}),
                        [44, 'sess-1']]);
$r = parse_reply(xchg($sock, $req), $req, $S);
is($r->{code}, 5, 'a raw Accounting-Request: Accounting-Response');
ok($r->{auth_ok}, 'its Response Authenticator is right');
is(scalar @{ $r->{attrs} }, 0, 'no attributes in it');

$req = packet(code => 4, id => 5, secret => $S, ma => 1,
              attrs => [[40, pack('N', 3)], [8, ip($ip1)], imsi($imsi{1}),
                        [44, 'sess-1']]);
$r = parse_reply(xchg($sock, $req), $req, $S);
is($r->{code}, 5,
   'Accounting-Request with a Message-Authenticator (RFC 5080): answered');

$req = packet(code => 1, id => 6, secret => $S,
              attrs => [imsi($imsi{2}), vsa3gpp(20, '3526562000000201'),
                        vsa3gpp(21, "\x08"), vsa3gpp(22, "\x82" . "x" x 12),
                        attr(26, pack('N', 9) . "\x01\x05abc"),
                        [31, '+4790000002'], [30, 'iot.apn'],
                        [4, ip('127.0.0.1')], [32, 'pgw1'], [1, 'user']]);
$r = parse_reply(xchg($sock, $req), $req, $S);
is($r->{code}, 2, 'every attribute of 29.061, another vendor too: Accept');

my $answered = 7;    # Accept 4, Accounting-Response 3

# ---------------------------------------------------------------- malformed

my $hdr = sub {
    my ($code, $id, $len, $rest) = @_;
    return pack('CCn', $code, $id, $len) . ("\x11" x 16) . $rest;
};

my @garbage = (
    [ "",                                      'an empty datagram' ],
    [ "\x01",                                  'one byte' ],
    [ "\x01\x02\x00\x14" . "\0" x 15,          '19 bytes' ],
    [ $hdr->(1, 9, 19, ''),                    'Length 19' ],
    [ $hdr->(1, 9, 4097, "\0" x 4077),         'Length 4097' ],
    [ $hdr->(1, 9, 60, "\x01\x05abc"),         'Length past the datagram' ],
    [ $hdr->(1, 9, 23, "\x01\x00\x00"),        'attribute length 0' ],
    [ $hdr->(1, 9, 23, "\x01\x01\x00"),        'attribute length 1' ],
    [ $hdr->(1, 9, 25, "\x01\x09abc"),         'attribute past Length' ],
    [ $hdr->(1, 9, 26, "\x01\x05abc\x1f"),     'half an attribute' ],
    [ $hdr->(1, 9, 25, "\x1a\x05\0\0\x28"),    'Vendor-Specific of 3' ],
    [ $hdr->(1, 9, 30, "\x1a\x0a\0\0\x28\xaf\x01\x00ab"),
                                               '3GPP sub-attribute len 0' ],
    [ $hdr->(1, 9, 30, "\x1a\x0a\0\0\x28\xaf\x01\x09ab"),
                                               '3GPP sub-attribute past' ],
    [ $hdr->(1, 9, 27, "\x1a\x07\0\0\x28\xaf\x01"),
                                               '3GPP sub-attribute half' ],
    [ $hdr->(1, 9, 25, "\x08\x05abc"),         'Framed-IP-Address of 3' ],
    [ $hdr->(4, 9, 24, "\x28\x04\0\x01"),      'Acct-Status-Type of 2' ],
    [ $hdr->(1, 9, 37, "\x50\x11" . "\0" x 15), 'Message-Authenticator 15' ],
    [ packet(code => 1, id => 9, secret => $S, ma => 1,
             attrs => [attr(80, "\0" x 16)]),  'two Message-Authenticators' ],
    [ packet(code => 4, id => 9, secret => $S, attrs => [imsi($imsi{1})]),
                                               'no Acct-Status-Type' ],
);

for my $g (@garbage) {
    xchg($sock, $g->[0], 0);
}

# the first datagram that comes back is the answer to this one: no
# garbage was answered (one socket, one worker, in order)
$req = packet(code => 1, id => 10, secret => $S,
              attrs => [imsi($imsi{1})]);
$r = parse_reply(xchg($sock, $req), $req, $S);
ok($r && $r->{id} == 10 && $r->{code} == 2,
   'after ' . scalar(@garbage) . ' malformed datagrams, nothing was '
   . 'answered but the next request');
$answered++;

counter_is('dropped.malformed', scalar @garbage,
           'each malformed datagram counted');

my $log = $t->log_slice;
my $malformed = 'radius: malformed datagram from gateway "pgw1"';
for my $why ('shorter than a RADIUS header', 'Length field out of range',
             'beyond the end of the datagram', 'attribute length out of range',
             'truncated attribute', 'Vendor-Specific shorter',
             '3GPP sub-attribute', 'Framed-IP-Address is not 4 octets',
             'Acct-Status-Type is not 4 octets',
             'Message-Authenticator is not 16 octets',
             'more than one Message-Authenticator',
             'without Acct-Status-Type')
{
    like($log, qr/\[info\][^\n]*\Q$malformed\E[^\n]*\Q$why\E/,
         "logged at info: $why");
}

# ---------------------------------------------------------------- others

xchg($sock, $hdr->(12, 11, 20, ''), 0);
xchg($sock, packet(code => 2, id => 12, secret => $S), 0);
counter_is('dropped.unsupportedCode', 2,
           'Status-Server and Access-Accept are not served: dropped');

my $far = IoT::Radius::udp_socket('127.0.0.9');
ok(!defined xchg($far, packet(code => 1, id => 13, secret => $S,
                              attrs => [imsi($imsi{1})]), 1),
   'from an address of no gateway: no reply');
counter_is('dropped.unknownSource', 1, 'counted');

silent($sock, $S, packet(code => 1, id => 14, secret => $S, ma => 1,
                         bad_ma => 1, attrs => [imsi($imsi{1})]),
       'a wrong Message-Authenticator');
silent($sock, $S, packet(code => 1, id => 15, secret => 'other', ma => 1,
                         attrs => [imsi($imsi{1})]),
       'a Message-Authenticator made with another secret');
silent($sock, $S, packet(code => 4, id => 16, secret => $S, ma => 1,
                         bad_ma => 1, attrs => [[40, pack('N', 1)]]),
       'an Accounting-Request with a wrong Message-Authenticator');
counter_is('dropped.badMessageAuthenticator', 3, 'counted');

silent($sock, $S, packet(code => 4, id => 17, secret => 'other',
                         attrs => [[40, pack('N', 1)]]),
       'an Accounting-Request of another secret');
my $zero = packet(code => 4, id => 18, secret => $S,
                  attrs => [[40, pack('N', 1)]]);
substr($zero, 4, 16) = "\0" x 16;
silent($sock, $S, $zero, 'an Accounting-Request with a zero authenticator');
counter_is('dropped.badAuthenticator', 2, 'counted');

silent($sock, $S, packet(code => 1, id => 19, secret => $S,
                         attrs => [imsi($imsi{1}), [79, "\x02\x01"]]),
       'EAP-Message without Message-Authenticator (RFC 3579)');
counter_is('dropped.noMessageAuthenticator', 1, 'counted');

$req = packet(code => 1, id => 20, secret => $S, ma => 1,
              attrs => [imsi($imsi{1}), [79, "\x02\x01\x00\x05\x01"]]);
$r = parse_reply(xchg($sock, $req), $req, $S);
is($r->{code}, 3, 'EAP with a Message-Authenticator: Reject (no EAP here)');
$answered++;

# ---------------------------------------------------------------- strict

my $strict = IoT::Radius::udp_socket('127.0.0.4');
my $SS = 'strict-secret';

silent($strict, $SS, packet(code => 1, id => 21, secret => $SS,
                            attrs => [imsi($imsi{3})]),
       'require_message_authenticator=on: without one',
       ma => 1, imsi => $imsi{3});
counter_is('dropped.noMessageAuthenticator', 2, 'counted');

$req = packet(code => 1, id => 22, secret => $SS, ma => 1,
              attrs => [imsi($imsi{3})]);
$r = parse_reply(xchg($strict, $req), $req, $SS);
is($r->{code}, 2, 'with one: Accept');
like($r->{framed_ip} // '', qr/^10\.66\.0\.\d+$/, 'from that gateway\'s pool');

$req = packet(code => 4, id => 23, secret => $SS,
              attrs => [[40, pack('N', 7)]]);
$r = parse_reply(xchg($strict, $req), $req, $SS);
is($r->{code}, 5, 'its Accounting-Requests need none (they are signed)');
$answered += 2;

# ---------------------------------------------------------------- retransmit

my $before = stats();

$req = packet(code => 1, id => 30, secret => $S,
              attrs => [imsi($imsi{2})]);
my $first = xchg($sock, $req);
$r = parse_reply($first, $req, $S);
is($r->{code}, 2, 'an Access-Request: Accept');

my $again = xchg($sock, $req);
is(unpack('H*', $again // ''), unpack('H*', $first),
   'its retransmission gets the very same bytes');

($st) = $api->call(DELETE => "/collections/$cid/devices/$did{2}");
is($st, 204, 'the device is deleted');

$again = xchg($sock, $req);
is(unpack('H*', $again // ''), unpack('H*', $first),
   'a retransmission after that still gets the first answer: '
   . 'the core was not asked again');

my $other = IoT::Radius::udp_socket();
$r = parse_reply(xchg($other, $req), $req, $S);
is($r->{code}, 3,
   'the same bytes from another port are a new request: Reject');

my $new = packet(code => 1, id => 30, secret => $S,
                 attrs => [imsi($imsi{2})]);
$r = parse_reply(xchg($sock, $new), $new, $S);
is($r->{code}, 3, 'the same identifier with a new authenticator: Reject');

$req = packet(code => 4, id => 31, secret => $S,
              attrs => [[40, pack('N', 1)], [8, ip($ip1)], imsi($imsi{1}),
                        [44, 'sess-2']]);
$first = xchg($sock, $req);
is(parse_reply($first, $req, $S)->{code}, 5, 'an Accounting Start answered');
$again = xchg($sock, $req);
is(unpack('H*', $again // ''), unpack('H*', $first),
   'its retransmission gets the same bytes');

my $after = stats();
is($after->{retransmitted} - $before->{retransmitted}, 3,
   'three retransmissions counted');
is($after->{received} - $before->{received}, 7, 'seven datagrams');
$answered += 4;

# ---------------------------------------------------------------- fuzz

srand(42);

# in batches, each followed by a valid request, so that the socket buffers
# never overflow (a slow nginx under valgrind would lose datagrams)
my $answers = 0;
for my $batch (1 .. 12) {
    for my $i (1 .. 25) {
        my $len = 1 + int(rand(120));
        my $g = join '', map { chr(int(rand(256))) } 1 .. $len;
        substr($g, 0, 1) = chr(1 + int(rand(5))) if $i % 2;
        xchg($sock, $g, 0);
    }

    my $id = 40 + $batch;
    $req = packet(code => 1, id => $id, secret => $S,
                  attrs => [imsi($imsi{1})]);
    xchg($sock, $req, 0);

    # a random datagram may be a valid request by chance: read until ours
    my $sel = IO::Select->new($sock);
    while ($sel->can_read($IoT::Test::TIMEOUT)) {
        my $buf;
        last unless defined recv($sock, $buf, 65535, 0);
        my $p = parse_reply($buf, $req, $S);
        if ($p && $p->{id} == $id && $p->{auth_ok} && $p->{code} == 2) {
            $answers++;
            last;
        }
    }
}
is($answers, 12, 'after 300 random datagrams nginx still answers');

my $s = stats();
ok($s->{received} >= 300, 'the random datagrams were received')
    or diag(json_encode($s));

$t->check_log('drops');
$t->finish;
done_testing;
