#!/usr/bin/perl
# The store's file system fills up under a running server (a small tmpfs,
# as root): writes are refused (503) and uplinks counted as unrecorded, no
# worker dies, a failed commit is not followed by a misleading "cannot
# rollback", and once there is room again the store works by itself and
# the log says so, with how many failures it did not log (on a full disk
# the log's own lines may be lost: that line comes after).

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use File::Temp ();
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'mounting a tmpfs needs root' if $> != 0;

my $disk = File::Temp::tempdir('iot-full-XXXXXXXX', TMPDIR => 1,
                               CLEANUP => 0);
chmod 0755, $disk;
system('mount', '-t', 'tmpfs', '-o', 'size=4m,mode=0755', 'tmpfs', $disk) == 0
    or plan skip_all => 'cannot mount a tmpfs here';

my $mounted = 1;
sub unmount {
    return unless $mounted;
    system('umount', '-l', $disk);
    rmdir $disk;
    $mounted = 0;
}
END { unmount() }

my $SECRET = 'full-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $stats = IoT::Test::free_port('tcp');

my $t = IoT::Test->new(workers => 2, store => "$disk/iot.db",
                       stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport; iot_uplink; }
    server { listen 127.0.0.1:$stats; return "\$iot_uplink_stats"; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

sub counters {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $stats,
                                  Proto => 'tcp', Timeout => 10) or return {};
    local $/;
    return json_decode(<$s> // '') // {};
}

my @socks = map {
    IO::Socket::INET->new(LocalAddr => '127.0.0.61', LocalPort => 0,
                          Proto => 'udp') or die $!
} 1 .. 8;
my $to = pack_sockaddr_in($up, inet_aton('127.0.0.1'));
my $sn = 0;
sub uplink { $socks[$sn++ % @socks]->send($_[0], 0, $to) }

my $cid = $api->create_collection->{collectionId};
my $D = $api->create_device($cid);
my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.61, "
    . "3GPP-IMSI = \"$D->{imsi}\", Acct-Session-Id = \"f1\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'attached');

sub stored {
    my ($s, $j) = $api->call(GET => "/collections/$cid/data?limit=0");
    return ($s == 200 && $j) ? scalar @{ $j->{messages} } : -1;
}

uplink("before $_") for 1 .. 10;
ok(IoT::Test::wait_until(sub { stored() == 10 }, 20), 'uplinks are recorded');

my @workers = $t->workers;
my $mark = $t->log_mark;

# ---- the disk fills up
system("dd if=/dev/zero of=$disk/fill bs=64k 2>/dev/null");

my %answers;
my $tags = { map { ("k$_" => 'v' x 100) } 1 .. 8 };
for (1 .. 400) {
    my ($s) = $api->call(POST => '/collections', body => { tags => $tags });
    $answers{$s}++;
    last if $answers{503} && $answers{503} >= 10;
}
ok($answers{503}, 'writes are refused on a full disk');
is_deeply([ grep { $_ != 201 && $_ != 503 } keys %answers ], [],
          '... with 503, none with anything else') or diag(json_encode(\%answers));

uplink('x' x 1000) for 1 .. 300;
ok(IoT::Test::wait_until(sub { (counters()->{unrecorded} // 0) > 0 }, 30),
   'uplinks that could not be recorded are counted');

is_deeply([ $t->workers ], \@workers, 'no worker died');

# ---- room again: the store works by itself
unlink "$disk/fill";

ok(IoT::Test::wait_until(sub {
    my ($s) = $api->call(POST => '/collections', body => {});
    return $s == 201;
}, 30), 'writes succeed again');

my ($c, $n);
uplink("after $_") for 1 .. 10;
ok(IoT::Test::wait_until(sub {
    $c = counters();
    $n = stored();
    return ($c->{received} // -1) == $n + ($c->{unrecorded} // 0)
           && $n >= 20;
}, 30), 'every uplink taken in is stored or counted as unrecorded')
    or diag(json_encode($c) . " stored $n");

my $log = $t->log_slice($mark);
unlike($log, qr/cannot rollback/, 'no misleading "cannot rollback" line');
like($log, qr/iot store "[^"]*iot\.db" works again after \d+ s; \d+ more failures were not logged \(the first: "database or disk is full"\)/,
     'the log says the store works again, and what failed');
like($log, qr/iot store "[^"]*iot\.db-history" works again after/,
     '... and the history');
my @lines = grep { /\[error\]/ && /iot store/ } split /\n/, $log;
cmp_ok(scalar @lines, '<=', 8, 'the failures themselves take a few lines')
    or diag(join "\n", @lines[0 .. 20]);

$t->check_log('full disk');
$t->finish;
unmount();
done_testing;
