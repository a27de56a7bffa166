#!/usr/bin/perl
# Bad input on both sides of the CoAP sidecar: malformed CoAP datagrams
# from a device (the sidecar drops or resets them, stays up, stores
# nothing), and link frames to nginx's iot_coap_link that are garbage,
# signed with another secret, too old, truncated, of an unknown type or
# missing fields (dropped and logged, or answered "bad"; nothing stored).
# A frame made here with the right secret is taken, so the refusals are
# the frames' own.

use strict;
use warnings;
use Test::More;
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::Coap;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'no sidecar or coap-client (./build.sh build)'
    unless IoT::Coap::available();

my $SECRET = 'coap-secret';
my $acct = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 1);
my $coap = IoT::Coap->new($t);
$t->write_config(stream_conf => <<"EOF" . $coap->link_conf);
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
EOF
my $api = IoT::Collections->new($t);
$t->start;
ok($coap->start, 'the sidecar is up');

my (undef, $C) = $api->call(POST => '/collections', body => {});
my $cid = $C->{collectionId};
my (undef, $D) = $api->call(POST => "/collections/$cid/devices",
                            body => { imsi => $t->next_imsi,
                                      imei => $t->next_imei });
my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Acct-Session-Id = \"m1\", "
    . "Framed-IP-Address = 127.0.0.5, 3GPP-IMSI = \"$D->{imsi}\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device attaches');

sub count {
    my (undef, $j) = $api->call(GET => "/collections/$cid/data?limit=0");
    return scalar @{ $j->{messages} || [] };
}

# ------------------------------------------------------------ CoAP side
my $dev = IO::Socket::INET->new(LocalAddr => '127.0.0.5', LocalPort => 0,
                                PeerAddr => '127.0.0.1',
                                PeerPort => $coap->port, Proto => 'udp')
    or die "device socket: $!";
my $sel = IO::Select->new($dev);

sub coap_post {
    my ($mid, $payload) = @_;
    # CON POST, token 0x7a, Uri-Path "m"
    return pack('C C n C', 0x41, 0x02, $mid, 0x7a) . "\xb1m\xff" . $payload;
}

my @bad = (
    '',                                       # empty
    "\xff",                                   # one byte
    "\x81\x02\x00\x01",                       # version 2
    "\x49\x02\x00\x02" . 'x' x 9,             # token length 9 (reserved)
    "\x41\x02\x00\x03\x7a\xf1m",              # option delta 15 (reserved)
    "\x41\x02\x00\x04\x7a\xb5m",              # option longer than the datagram
    "\x41\x02\x00\x05\x7a\xb1m\xff",          # payload marker, no payload
    "\x40\x02",                               # truncated header
    pack('C*', map { int rand 256 } 1 .. 64), # noise
);
$dev->send($_) for @bad;
select(undef, undef, undef, 0.5);
# drain whatever libcoap answered (RST or 4.00), it does not matter which
while ($sel->can_read(0.2)) { $dev->recv(my $x, 4096) }
ok($coap->alive, 'malformed CoAP datagrams: the sidecar is still up');
is(count(), 0, '... and nothing is stored');

# a confirmable POST made here: an empty ACK, then 2.01 (separate response)
$dev->send(coap_post(0x1234, 'raw'));
my ($ack, $resp);
my $deadline = time + 5;
while (time < $deadline && !$resp) {
    last unless $sel->can_read($deadline - time);
    $dev->recv(my $buf, 4096);
    my ($b0, $code, $mid) = unpack('C C n', $buf);
    my $type = ($b0 >> 4) & 3;
    if ($type == 2 && $mid == 0x1234) {
        $ack = $code;
        # a piggybacked answer is an ACK with a code
        $resp = $code if $code;
    } elsif ($type == 0 || $type == 1) {
        $resp = $code;
        # acknowledge a confirmable response
        $dev->send(pack('C C n', 0x60, 0, $mid)) if $type == 0;
    }
}
ok(defined $ack, 'a hand-made confirmable POST is acknowledged');
is(sprintf('%d.%02d', ($resp // 0) >> 5, ($resp // 0) & 31), '2.01',
   '... and answered 2.01');
is(count(), 1, '... once stored');

# ------------------------------------------------------------ link side
my $link = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 PeerAddr => '127.0.0.1',
                                 PeerPort => $coap->link, Proto => 'udp')
    or die "link socket: $!";
my $lsel = IO::Select->new($link);

sub field { my ($tag, $v) = @_; pack('C n', $tag, length $v) . $v }

# a frame of version 2 (docs/coap.md): its length in the header; len,
# version: what the header says instead
sub frame {
    my (%o) = @_;
    my $ms = int(($o{time} // time) * 1000);
    my $fields = $o{fields} // '';
    my $head = 'IoTC' . pack('C C n N', $o{version} // 2, $o{type},
                             $o{len} // 20 + length($fields) + 32,
                             $o{seq} // 1)
             . pack('N N', int($ms / 2**32), $ms % 2**32);
    my $body = $head . $fields;
    return $body . hmac_sha256($body, $o{secret} // $coap->secret);
}

# the frames of a datagram, by the lengths in their headers
sub frames {
    my ($d) = @_;
    my @f;
    while (defined $d && length $d >= 52) {
        my $n = unpack('x6 n', $d);
        last if $n < 52 || $n > length $d;
        push @f, substr($d, 0, $n, '');
    }
    return @f;
}

my $addr = field(1, pack('C n', 4, 40000) . pack('C4', 127, 0, 0, 5));
my $uplink = field(3, 'POST') . field(4, 'p') . field(5, 'link');

sub reply {
    return undef unless $lsel->can_read($_[0] // 2);
    $link->recv(my $buf, 8192);
    return $buf;
}

my $mark = $t->log_size;
my @cases = (
    [ 'garbage', 'hello link' ],
    [ 'another secret', frame(type => 1, fields => $addr . $uplink,
                              secret => 'not the shared secret at all') ],
    [ 'ten minutes old', frame(type => 1, fields => $addr . $uplink,
                               time => time - 600) ],
    [ 'a field longer than the frame',
      frame(type => 1, fields => $addr . pack('C n', 5, 500) . 'short') ],
    [ 'a bad address field', frame(type => 1,
                                   fields => field(1, 'xx') . $uplink) ],
    [ 'too long', 'IoTC' . ("\x02" x 5000) ],
    [ 'a length past the datagram',
      frame(type => 1, fields => $addr . $uplink, len => 400) ],
    [ 'a length shorter than a frame',
      frame(type => 1, fields => $addr . $uplink, len => 30) ],
    [ 'version 1', frame(type => 1, fields => $addr . $uplink, version => 1) ],
);
for my $c (@cases) {
    $link->send($c->[1]);
    ok(!defined reply(0.5), "link frame, $c->[0]: no answer");
}
my $log = $t->log_slice;
like($log, qr/coap link: a frame of \d+ bytes from .* dropped: bad length/,
     'the log says why: bad length');
like($log, qr/dropped: bad HMAC/, '... bad HMAC');
like($log, qr/dropped: frame too old/, '... too old');
like($log, qr/dropped: field longer than the frame/, '... a field too long');
like($log, qr/dropped: bad address field/, '... a bad address');
like($log, qr/dropped: not a link frame of version 2/, '... another version');
unlike($log, qr/\Q${\ $coap->secret }\E/, '... and never the secret');

# signed but of no known type, or without what it needs: answered "bad"
for my $c ([ 'an unknown type', frame(type => 99, seq => 7) ],
           [ 'an uplink without an address',
             frame(type => 1, seq => 8, fields => $uplink) ],
           [ 'a pulled without ids', frame(type => 5, seq => 9) ]) {
    $link->send($c->[1]);
    my $r = reply();
    ok(defined $r && length $r > 52, "$c->[0]: answered");
    my ($type, $seq) = unpack('x5 C x2 N', $r // "\0" x 20);
    is($seq, unpack('x8 N', $c->[1]), '... with its sequence number');
    like($r // '', qr/\x06\x00\x01\x04/, '... result "bad" (4)');
}

# the right secret, the attached address: taken
$link->send(frame(type => 1, seq => 11, fields => $addr . $uplink));
my $r = reply();
like($r // '', qr/\x06\x00\x01\x00/, 'a good frame: result ok (0)');
is(count(), 2, '... stored; none of the bad ones were');

# several frames in one datagram: each taken and answered (the answers
# gathered); a frame that does not verify ends the datagram there
$link->send(join '', map { frame(type => 1, seq => $_, fields => $addr . $uplink) }
                     21 .. 23);
my %seqs;
while (keys %seqs < 3 and defined(my $d = reply())) {
    for my $f (frames($d)) {
        $seqs{unpack('x8 N', $f)} = $f =~ /\x06\x00\x01\x00/ ? 'ok' : 'not ok';
    }
}
is_deeply(\%seqs, { 21 => 'ok', 22 => 'ok', 23 => 'ok' },
          'three frames in a datagram: three answers, result ok');
is(count(), 5, '... three messages stored');

$t->log_mark;
$link->send(frame(type => 1, seq => 31, fields => $addr . $uplink)
            . frame(type => 1, seq => 32, fields => $addr . $uplink,
                    secret => 'not the shared secret at all')
            . frame(type => 1, seq => 33, fields => $addr . $uplink));
%seqs = ();
while (defined(my $d = reply(1))) {
    $seqs{unpack('x8 N', $_)} = 1 for frames($d);
}
is_deeply([ sort keys %seqs ], [ 31 ], 'a bad frame in a datagram: the one before it answered, none after');
is(count(), 6, '... one message stored');
like($t->log_slice, qr/dropped: bad HMAC/, '... the bad one logged');
my ($ds, $J) = $api->call(GET => "/collections/$cid/data?limit=1");
is($J->{messages}[0]{coapMetaData}{coapPath}, 'p', '... with its path');

$coap->stop;
$t->check_log('coap malformed');
done_testing;
