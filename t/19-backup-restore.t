#!/usr/bin/perl
# The backup of docs/operations.md: SQLite's online backup of both store
# files (registry and history) while nginx runs and keeps writing, and a
# restore into a fresh nginx that serves what was there at the backup and
# nothing written after it.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'the sqlite3 shell is not installed'
    unless -x '/usr/bin/sqlite3';

my $SECRET = 'backup-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $stream = <<"EOF";
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET
                       pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF

my $t = IoT::Test->new(stream_conf => $stream);
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my $imsi = $t->next_imsi;
my $D = $api->create_device($cid, { imsi => $imsi });
my @before = map { $api->create_device($cid)->{deviceId} } 1 .. 20;

my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.2,\n"
    . "3GPP-IMSI = \"$imsi\", Acct-Session-Id = \"b1\"", dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device attaches');
my $dev = IO::Socket::INET->new(LocalAddr => '127.0.0.2', Proto => 'udp',
                                PeerAddr => '127.0.0.1', PeerPort => $up)
    or die "udp: $!";
$dev->send('before the backup');
ok(IoT::Test::wait_until(sub {
    my (undef, $j) = $api->call(GET => "/collections/$cid/data");
    return $j && @{ $j->{messages} || [] } == 1;
}), 'its message is in the history');

# the backup, while a writer keeps creating devices
my $store = $t->dir . '/var/iot.db';
my $bak = $t->dir . '/backup';
mkdir $bak or die;
my $pid = fork // die;
if ($pid == 0) {
    my $c = IoT::Collections->new($t);
    my $ok = 1;
    for (1 .. 40) {
        my ($s) = $c->call(POST => "/collections/$cid/devices",
                           body => { imsi => $t->next_imsi,
                                     imei => $t->next_imei });
        $ok = 0 unless $s == 201;
    }
    POSIX::_exit($ok ? 0 : 1);    # not the harness's END: nginx runs on
}
for my $f ('iot.db', 'iot.db-history') {
    my $o = `sqlite3 $t->{dir}/var/$f ".backup '$bak/$f'" 2>&1`;
    is($? >> 8, 0, "online backup of $f") or diag($o);
}
waitpid $pid, 0;
# the child took the harness's next identifiers: skip past them
$t->{imsi_seq} += 100;
is($?, 0, 'the writes during the backup were all answered 201');

my @after = map { $api->create_device($cid)->{deviceId} } 1 .. 5;
$dev->send('after the backup');
IoT::Test::wait_until(sub {
    my (undef, $j) = $api->call(GET => "/collections/$cid/data");
    return $j && @{ $j->{messages} || [] } == 2;
});

for my $f ('iot.db', 'iot.db-history') {
    is(`sqlite3 $bak/$f 'PRAGMA integrity_check'`, "ok\n",
       "the backup of $f is whole");
}
$t->check_log('backed up');
$t->stop;

# the restore: a fresh nginx on the backup files
my $r = IoT::Test->new(stream_conf => $stream =~ s/\b$acct\b/
                       IoT::Test::free_port('udp')/er
                              =~ s/\b$up\b/IoT::Test::free_port('udp')/er);
for my $f ('iot.db', 'iot.db-history') {
    system('cp', "$bak/$f", $r->dir . "/var/$f") == 0 or die;
}
# the admin token is the installation's, not the store's
system('cp', $t->dir . '/var/admin.token', $r->dir . '/var/admin.token');
my $rapi = IoT::Collections->new($r);
$r->start;

my ($st, $j) = $rapi->call(GET => "/collections/$cid/devices/$D->{deviceId}");
is($st, 200, 'restored: the device');
my $found = grep {
    ($rapi->call(GET => "/collections/$cid/devices/$_"))[0] == 200
} @before;
is($found, scalar @before, 'restored: every device made before the backup');
$found = grep {
    ($rapi->call(GET => "/collections/$cid/devices/$_"))[0] == 404
} @after;
is($found, scalar @after, 'restored: none made after it');
(undef, $j) = $rapi->call(GET => "/collections/$cid/data");
is_deeply([ map { $_->{payload} } @{ $j->{messages} || [] } ],
          [ 'YmVmb3JlIHRoZSBiYWNrdXA=' ],
          'restored: the history as it was at the backup');

$r->check_log('restored');
$r->finish;
$t->finish;
done_testing;
