#!/usr/bin/perl
# What a device sees of a confirmable uplink (docs/coap.md, "Uplink"):
# the answer in the ACK (piggy-backed) when nginx answers at once; an empty
# ACK after about a second when it does not, then the answer as a separate
# confirmable response; a request sent again meanwhile goes to nginx only
# once.  nginx is played here by a socket of the test on the sidecar's
# link, answering with the shared secret when the test says so.

use strict;
use warnings;
use Test::More;
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);
use lib 't/lib';
use IoT::Test;
use IoT::Coap;

plan skip_all => 'no sidecar or coap-client (./build.sh build)'
    unless IoT::Coap::available();

my $t = IoT::Test->new(workers => 1);

# the link's nginx end, this test's own
my $link = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Proto => 'udp')
    or die "link socket: $!";
my $lsel = IO::Select->new($link);

my $coap = IoT::Coap->new($t, link => $link->sockport);
ok($coap->start, 'the sidecar is up, its link to this test');

my $dev = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                PeerAddr => '127.0.0.1',
                                PeerPort => $coap->port, Proto => 'udp')
    or die "device socket: $!";
my $dsel = IO::Select->new($dev);

# CON (0x4.) with a token of 2 bytes, Uri-Path "m", a payload
sub request {
    my ($code, $mid, $token, $payload) = @_;
    return pack('C C n', 0x42, $code, $mid) . $token . "\xb1m\xff" . $payload;
}

# the next uplink frame from the sidecar: (sequence number, its peer);
# a datagram may hold several frames, each with its length (docs/coap.md)
my @queued;
sub uplink_frame {
    my ($wait) = @_;
    for (;;) {
        return @{ shift @queued } if @queued;
        return unless $lsel->can_read($wait);
        my $peer = $link->recv(my $buf, 65536);
        while (length $buf >= 52) {
            my ($version, $type, $len, $seq) = unpack('x4 C C n N', $buf);
            last if $version != 2 || $len < 52 || $len > length $buf;
            my $frame = substr($buf, 0, $len, '');
            my $body = substr($frame, 0, -32);
            next unless $type == 1
                && hmac_sha256($body, $coap->secret) eq substr($frame, -32);
            push @queued, [ $seq, $peer ];
        }
    }
}

# nginx's reply: the uplink is stored (result 0)
sub answer {
    my ($seq, $peer) = @_;
    my $ms = int(time * 1000);
    my $body = 'IoTC' . pack('C C n N', 2, 2, 20 + 4 + 32, $seq)
             . pack('N N', int($ms / 2**32), $ms % 2**32)
             . pack('C n C', 6, 1, 0);
    $link->send($body . hmac_sha256($body, $coap->secret), 0, $peer);
}

# the next datagram to the device: (type, code, mid, token)
sub from_sidecar {
    my ($wait) = @_;
    return unless $dsel->can_read($wait);
    $dev->recv(my $buf, 4096);
    my ($b0, $code, $mid) = unpack('C C n', $buf);
    return (($b0 >> 4) & 3, $code, $mid, substr($buf, 4, $b0 & 15));
}

sub code { sprintf('%d.%02d', $_[0] >> 5, $_[0] & 31) }

# ------------------------------------------------------------ piggy-backed
$dev->send(request(3, 0x0101, 'p1', 'quick'));
my ($seq, $peer) = uplink_frame(5);
ok(defined $seq, 'a confirmable PUT goes over the link');
ok(!defined((from_sidecar(0.3))[0]),
   '... and is not acknowledged before nginx answers');
answer($seq, $peer);
my ($type, $code, $mid, $token) = from_sidecar(5);
is($type, 2, 'nginx answers: the device gets an ACK');
is($mid, 0x0101, '... of its request');
is(code($code // 0), '2.04', '... with the answer in it (piggy-backed)');
is($token, 'p1', '... and its token');
ok(!defined((from_sidecar(0.3))[0]), '... and nothing more');

# ------------------------------------------ empty ACK, separate response
$dev->send(request(2, 0x0202, 's2', 'slow'));
($seq, $peer) = uplink_frame(5);
ok(defined $seq, 'a confirmable POST goes over the link');
$dev->send(request(2, 0x0202, 's2', 'slow'));
ok(!defined((uplink_frame(0.5))[0]),
   '... sent again, it does not go to nginx again');

($type, $code, $mid, $token) = from_sidecar(5);
is($type, 2, 'nginx does not answer: an ACK after a while');
is($code, 0, '... an empty one');
is($mid, 0x0202, '... of the request');

answer($seq, $peer);
($type, $code, $mid, $token) = from_sidecar(5);
is($type, 0, 'then nginx answers: a confirmable response');
is(code($code // 0), '2.01', '... 2.01');
is($token, 's2', '... with the request\'s token');
isnt($mid, 0x0202, '... as a message of its own');
$dev->send(pack('C C n', 0x60, 0, $mid // 0));
ok(!defined((from_sidecar(3.5))[0]),
   '... acknowledged by the device, it is not sent again');

# ------------------------------------------------------- non-confirmable
$dev->send(pack('C C n', 0x52, 2, 0x0303) . 'n3' . "\xb1m\xff" . 'non');
($seq, $peer) = uplink_frame(5);
ok(defined $seq, 'a non-confirmable POST goes over the link');
answer($seq, $peer);
($type, $code, $mid, $token) = from_sidecar(5);
is($type, 1, '... answered non-confirmable');
is(code($code // 0), '2.01', '... 2.01');
is($token, 'n3', '... with its token');

ok($coap->alive, 'the sidecar is still up');
$coap->stop;

done_testing;
