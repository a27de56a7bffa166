#!/usr/bin/perl
# The lists of memberships as keyset pages, like the other things lists
# (docs/things.md, "Device groups"): a group's devices
# (/device-groups/{id}/devices) and a device's links
# (/devices/{deviceId}/device-groups), in the registry's order or sorted
# by when the device joined (sort=createdAt, -createdAt), with next and
# previous links; walked both ways in the order the store has them;
# nothing skipped or repeated while devices join and leave between pages;
# createdSince with the sort; cursors of another list or sort, other sort
# fields 400; a cursor after a restart.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;

my $t = IoT::Test->new(location => $IoT::Things::LOCATIONS);
my $col = IoT::Collections->new($t);
my $api = IoT::Things->new($t);
$t->start;

my $db = $t->dir . '/var/iot.db';
sub sql {
    my ($q) = @_;
    my @out = `sqlite3 $db "$q" 2>&1`;
    chomp @out;
    return \@out;
}

my $A = $col->create_collection;
$api->{client_id} = $A->{teamId};
my $P = $A->{collectionId};

sub make_group {
    my ($name) = @_;
    my ($s, $j, undef, $raw) = $api->call(POST => '/device-groups',
        body => { name => $name, clientId => $A->{teamId},
                  projectId => $P });
    die "POST /device-groups: $s $raw\n" unless $s == 201;
    return $j;
}

sub join_group {
    my ($g, $d) = @_;
    my ($s, undef, undef, $raw) = $api->call(POST =>
        "/device-groups/$g/devices", body => { deviceId => $d });
    die "join: $s $raw\n" unless $s == 201;
}

# a walk by next links (or by previous links from a cursor): the ids of
# the items (the device's for a group's list, the group's for a device's)
sub walk {
    my ($path, $dir, %o) = @_;
    my (@pages, $n);
    my ($base) = $path =~ /^([^?]*)/;
    my $url = $path;
    while (defined $url) {
        my ($s, $l, undef, $r) = $api->call(GET => $url);
        return "status $s: $r" unless $s == 200;
        my @ids = map { $_->{deviceGroupId} // $_->{id} } @{ $l->{items} };
        $o{between}->() if $o{between};
        push @pages, [ @ids ];
        my $link = $l->{ $dir // 'next' };
        $url = defined $link ? "$base$link" : undef;
        return 'too many pages' if ++$n > 300;
    }
    return [ map { @$_ } ($dir // 'next') eq 'next' ? @pages
                                                     : reverse @pages ];
}

# ---- a group of 90 devices, joined in another order than made

my $G = make_group('big');
my @D = map { $api->create_device($P, { name => sprintf('d%03d', $_) }) }
        1 .. 90;
my @joined = map { $D[($_ * 37) % 90] } 0 .. 89;
join_group($G->{id}, $_->{id}) for @joined;

my $gid = sql("SELECT id FROM groups WHERE uuid = '$G->{id}'")->[0];
my $by_id = sql("SELECT d.uuid FROM members m JOIN devices d"
                . " ON d.id = m.device_id WHERE m.group_id = $gid"
                . " ORDER BY m.device_id");
my $by_join = sql("SELECT d.uuid FROM members m JOIN devices d"
                  . " ON d.id = m.device_id WHERE m.group_id = $gid"
                  . " ORDER BY m.created_at, m.device_id");
is(scalar @$by_id, 90, 'the store has the 90 memberships');

my $gl = "/device-groups/$G->{id}/devices";

is_deeply(walk("$gl?limit=7"), $by_id,
          'a group\'s devices: by next links, in the registry\'s order');
is_deeply(walk("$gl?limit=7&sort=createdAt"), $by_join,
          'sort=createdAt: in the order they joined');
is_deeply(walk("$gl?limit=7&sort=-createdAt"), [ reverse @$by_join ],
          'sort=-createdAt: the other way');

# previous links, from the last page back to the first
for my $sort ('', 'createdAt', '-createdAt') {
    my $q = "$gl?limit=8" . ($sort ? "&sort=$sort" : '');
    my ($last, $url) = (undef, $q);
    while (defined $url) {
        my ($s, $l) = $api->call(GET => $url);
        $last = $l;
        $url = defined $l->{next} ? "$gl$l->{next}" : undef;
    }
    ok(!defined $last->{next}, "sort '$sort': the last page has no next");
    ok(defined $last->{previous}, "sort '$sort': and a previous link");
    my @back = @{ walk("$gl$last->{previous}", 'previous') };
    my $want = $sort eq '' ? $by_id : $sort eq 'createdAt' ? $by_join
             : [ reverse @$by_join ];
    is_deeply([ @back, map { $_->{id} } @{ $last->{items} } ], $want,
              "sort '$sort': previous links walk back to the first page");
}

my ($st, $first) = $api->call(GET => "$gl?limit=10&sort=createdAt");
ok(!exists $first->{previous}, 'the first page has no previous link');

# ---- a device in 40 groups: its links

my @G = map { make_group(sprintf 'g%02d', $_) } 1 .. 40;
my $DV = $D[5];
join_group($_->{id}, $DV->{id}) for reverse @G;
my $did = sql("SELECT id FROM devices WHERE uuid = '$DV->{id}'")->[0];
my $links_by_join = sql("SELECT g.uuid FROM members m JOIN groups g"
                        . " ON g.id = m.group_id WHERE m.device_id = $did"
                        . " ORDER BY m.created_at, m.group_id");
my $links_by_id = sql("SELECT g.uuid FROM members m JOIN groups g"
                      . " ON g.id = m.group_id WHERE m.device_id = $did"
                      . " ORDER BY m.group_id");
my $dl = "/devices/$DV->{id}/device-groups";
is_deeply(walk("$dl?limit=6"), $links_by_id,
          'a device\'s links: by next links, in the registry\'s order');
is_deeply(walk("$dl?limit=6&sort=createdAt"), $links_by_join,
          'sort=createdAt: in the order it joined');
is_deeply(walk("$dl?limit=6&sort=-createdAt"), [ reverse @$links_by_join ],
          'sort=-createdAt');
($st, my $L) = $api->call(GET => "$dl?limit=5&sort=-createdAt");
my @t = map { $_->{createdAt} } @{ $L->{items} };
is_deeply(\@t, [ sort { $b cmp $a } @t ], 'the links\' createdAt going down');
ok(defined $L->{next} && !defined $L->{previous}, 'next, no previous');

# createdSince with the sort: from that time on
my $mid = sql("SELECT created_at FROM members WHERE device_id = $did"
              . " ORDER BY created_at, group_id LIMIT 1 OFFSET 20")->[0];
my @tm = gmtime(int($mid / 1000));
my $since = sprintf('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', $tm[5] + 1900,
                    $tm[4] + 1, @tm[3, 2, 1, 0], $mid % 1000);
my $from = sql("SELECT g.uuid FROM members m JOIN groups g"
               . " ON g.id = m.group_id WHERE m.device_id = $did"
               . " AND m.created_at >= $mid"
               . " ORDER BY m.created_at, m.group_id");
is_deeply(walk("$dl?limit=4&sort=createdAt&createdSince=$since"), $from,
          'createdSince with sort=createdAt');

# ---- pages while devices join and leave

my @extra = map { $api->create_device($P, { name => "x$_" }) } 1 .. 12;
my $k = 0;
my $changes = sub {
    # one joins, one that joined before leaves (not one of the 90)
    join_group($G->{id}, $extra[$k]->{id}) if $k < @extra;
    if ($k >= 2) {
        my ($s) = $api->call(DELETE =>
            "/device-groups/$G->{id}/devices/$extra[$k - 2]->{id}");
    }
    $k++;
};
for my $sort ('', 'createdAt', '-createdAt') {
    $k = 0;
    my $seen = walk("$gl?limit=9" . ($sort ? "&sort=$sort" : ''), 'next',
                    between => $changes);
    my %n;
    $n{$_}++ for ref $seen ? @$seen : ();
    my @missing = grep { !$n{$_} } @$by_id;
    my @twice = grep { $n{$_} > 1 } keys %n;
    ok(ref $seen && !@missing && !@twice,
       "sort '$sort': while devices join and leave, each of the 90 comes "
       . 'once (' . scalar(@missing) . ' missing, ' . scalar(@twice)
       . ' twice)');
    # the extra ones left for the next walk
    for my $e (@extra) {
        $api->call(DELETE => "/device-groups/$G->{id}/devices/$e->{id}");
    }
}

# ---- bad sorts and cursors

for my $q ('sort=name', 'sort=modifiedAt', 'sort=createdAt,name',
           'sort=-name', 'cursor=x', 'cursor=', 'limit=0') {
    is_problem([ $api->call(GET => "$gl?$q") ], 400, "group's devices: $q");
    is_problem([ $api->call(GET => "$dl?$q") ], 400, "device's links: $q");
}

my ($s1, $P1) = $api->call(GET => "$gl?limit=5&sort=createdAt");
my ($c1) = $P1->{next} =~ /cursor=([^&]+)/;
my ($s2, $P2) = $api->call(GET => "$dl?limit=5&sort=createdAt");
my ($c2) = $P2->{next} =~ /cursor=([^&]+)/;
my ($s3, $P3) = $api->call(GET => '/devices?limit=5&sort=createdAt');
my ($c3) = $P3->{next} =~ /cursor=([^&]+)/;
my ($s4, $P4) = $api->call(GET => '/device-groups?limit=5&sort=createdAt');
my ($c4) = $P4->{next} =~ /cursor=([^&]+)/;
is_problem([ $api->call(GET => "$dl?sort=createdAt&cursor=$c1") ], 400,
           'a group\'s cursor on a device\'s links', qr/cursor/);
is_problem([ $api->call(GET => "$gl?sort=createdAt&cursor=$c2") ], 400,
           'a device\'s cursor on a group\'s devices', qr/cursor/);
is_problem([ $api->call(GET => "$gl?sort=createdAt&cursor=$c3") ], 400,
           'a devices list\'s cursor', qr/cursor/);
is_problem([ $api->call(GET => "$dl?sort=createdAt&cursor=$c4") ], 400,
           'a groups list\'s cursor', qr/cursor/);
is_problem([ $api->call(GET => "$gl?sort=-createdAt&cursor=$c1") ], 400,
           'a cursor of another sort', qr/sort/);

# ---- after a restart, the same cursor goes on

my ($sn, $before) = $api->call(GET => "$gl$P1->{next}");
$t->restart;
my ($sr, $after) = $api->call(GET => "$gl$P1->{next}");
is($sr, 200, 'a cursor after a restart');
is_deeply([ map { $_->{id} } @{ $after->{items} } ],
          [ map { $_->{id} } @{ $before->{items} } ], 'the same page');

$t->finish;
done_testing;
