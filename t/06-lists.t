#!/usr/bin/perl
# Lists: id order, paging with limit and nextCursor, limit=0, for devices,
# collections and tokens.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;

my $N = 300;

my $t = IoT::Test->new;
my $api = IoT::Collections->new($t);
$t->start;

my $cid = ($api->call(POST => '/collections', body => {}))[1]{collectionId};
my $other = ($api->call(POST => '/collections', body => {}))[1]{collectionId};
like($cid, $ID_RE, 'collection made');
my $base = "/collections/$cid/devices";

my (%made, $fails);
for my $i (1 .. $N) {
    my ($s, $d) = $api->call(POST => $base,
        body => { imsi => $t->next_imsi, imei => $t->next_imei,
                  tags => { i => "$i" } });
    if ($s == 201 && $d && $d->{deviceId}) { $made{ $d->{deviceId} } = $d }
    else { $fails++; diag("create #$i: $s") if $fails < 5 }
}
is(scalar keys %made, $N, "$N devices made");
my @want = sort keys %made;

# a device in another collection must never show up here
my $stray = ($api->call(POST => "/collections/$other/devices",
    body => { imsi => $t->next_imsi, imei => $t->next_imei }))[1]{deviceId};

# ---- the whole list
for my $q ('', '?limit=0') {
    my ($s, $l, undef, $raw) = $api->call(GET => "$base$q");
    is($s, 200, "GET devices$q is 200");
    my @ids = map { $_->{deviceId} } @{ $l->{devices} || [] };
    is(scalar @ids, $N, "devices$q: all $N listed");
    is_deeply(\@ids, \@want, "devices$q: in id order, each once");
    ok(!exists $l->{nextCursor}, "devices$q: no nextCursor");
    is($l->{collectionId}, $cid, "devices$q: collectionId");
    my $same = !grep { !$made{ $_->{deviceId} }
                       || json_encode($_) ne json_encode($made{ $_->{deviceId} }) }
               @{ $l->{devices} || [] };
    ok($same, "devices$q: every item as it was created");
}
{
    my ($s, $l) = $api->call(GET => "$base?limit=10000");
    is(scalar @{ $l->{devices} || [] }, $N, 'limit=10000: all');
    ok(!exists $l->{nextCursor}, 'limit=10000: no nextCursor');
}

# ---- paging
sub walk {
    my ($path, $limit, $key, $idkey) = @_;
    my (@ids, $pages, @sizes, $bad);
    my $cursor;
    while (1) {
        my $sep = $path =~ /\?/ ? '&' : '?';
        my $url = "$path${sep}limit=$limit"
                . (defined $cursor ? '&cursor=' . uri_escape($cursor) : '');
        my ($s, $l) = $api->call(GET => $url);
        if ($s != 200) { $bad = "$url: $s"; last }
        my @page = map { $_->{$idkey} } @{ $l->{$key} || [] };
        push @ids, @page;
        push @sizes, scalar @page;
        last if ++$pages > 1000;
        last unless exists $l->{nextCursor};
        $cursor = $l->{nextCursor};
        if (!defined $cursor || ref $cursor || !length $cursor) {
            $bad = "bad nextCursor at page $pages"; last;
        }
    }
    return (\@ids, \@sizes, $bad);
}

sub uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

for my $limit (100, 7, 299, 300, 301, 1) {
    my ($ids, $sizes, $bad) = walk($base, $limit, 'devices', 'deviceId');
    ok(!$bad, "limit=$limit: every page 200") or diag($bad);
    is_deeply($ids, \@want, "limit=$limit: walks all $N exactly once in order");
    my $pages = int(($N + $limit - 1) / $limit);
    is(scalar @$sizes, $pages, "limit=$limit: $pages pages");
    my @exp = ((($limit) x ($pages - 1)), $N - $limit * ($pages - 1));
    is_deeply($sizes, \@exp, "limit=$limit: page sizes");
}

# the cursor is the item after which the next page starts
{
    my ($s, $l) = $api->call(GET => "$base?limit=5&cursor=$want[9]");
    is($s, 200, 'explicit cursor is 200');
    is_deeply([ map { $_->{deviceId} } @{ $l->{devices} || [] } ],
              [ @want[10 .. 14] ], 'starts after the cursor item');
    ($s, $l) = $api->call(GET => "$base?cursor=$want[-1]");
    is($s, 200, 'cursor at the last item is 200');
    is_deeply($l->{devices}, [], 'nothing after the last item');
    ok(!exists $l->{nextCursor}, 'and no nextCursor');
    ($s, $l) = $api->call(GET => "$base?cursor=$want[-2]&limit=1");
    is_deeply([ map { $_->{deviceId} } @{ $l->{devices} || [] } ],
              [ $want[-1] ], 'limit=1 before the last item');
    ok(!exists $l->{nextCursor}, 'no nextCursor: nothing more follows');
}

# ---- changes between pages: deleted items vanish, nothing is repeated
{
    my ($s, $l) = $api->call(GET => "$base?limit=100");
    my $cursor = $l->{nextCursor};
    my @first = map { $_->{deviceId} } @{ $l->{devices} };
    # delete the item the cursor points at and one on the next page
    my @gone = ($first[-1], $want[150]);
    is(($api->call(DELETE => "$base/$_"))[0], 204, 'deleted a device while paging')
        for @gone;
    my @rest;
    while (defined $cursor) {
        ($s, $l) = $api->call(GET => "$base?limit=100&cursor=" . uri_escape($cursor));
        last unless $s == 200;
        push @rest, map { $_->{deviceId} } @{ $l->{devices} };
        $cursor = $l->{nextCursor};
    }
    my %gone = map { $_ => 1 } @gone;
    is_deeply(\@rest, [ grep { !$gone{$_} } @want[100 .. $#want] ],
              'paging goes on after a deleted cursor item, skips deleted items');
    @want = grep { !$gone{$_} } @want;
    delete @made{@gone};
}

# ---- collections and tokens lists
{
    my @cids = ($cid, $other);
    for (1 .. 9) {
        push @cids, ($api->call(POST => '/collections', body => {}))[1]{collectionId};
    }
    @cids = sort @cids;
    my ($s, $l) = $api->call(GET => '/collections');
    is_deeply([ map { $_->{collectionId} } @{ $l->{collections} } ], \@cids,
              'collections in id order');
    for my $limit (1, 3, 11, 12) {
        my ($ids, $sizes, $bad) = walk('/collections', $limit, 'collections',
                                       'collectionId');
        ok(!$bad, "collections limit=$limit: every page 200") or diag($bad);
        is_deeply($ids, \@cids, "collections limit=$limit: all, once, in order");
    }

    my @toks;
    for (1 .. 10) {
        my ($s2, $tk) = $api->call(POST => '/tokens', body => { resource => '/' });
        push @toks, substr($tk->{token}, 0, 12);
    }
    ($s, $l) = $api->call(GET => '/tokens');
    my @all = map { $_->{token} } @{ $l->{tokens} };
    my %mine = map { $_ => 1 } @toks;
    is_deeply([ grep { $mine{$_} } @all ], [ sort @toks ],
              'all made tokens listed');
    is_deeply(\@all, [ sort @all ], 'tokens in order');
    for my $limit (1, 4, 10) {
        my ($ids, $sizes, $bad) = walk('/tokens', $limit, 'tokens', 'token');
        ok(!$bad, "tokens limit=$limit: every page 200") or diag($bad);
        is_deeply($ids, \@all, "tokens limit=$limit: all, once, in order");
    }
    # a scoped token pages through only what it can reach
    my ($s3, $sc) = $api->call(POST => '/tokens',
                               body => { resource => "/collections/$cid" });
    my ($s4, $l4) = $api->call(GET => '/collections?limit=1', token => $sc->{token});
    is_deeply([ map { $_->{collectionId} } @{ $l4->{collections} || [] } ],
              [$cid], 'scoped token: first page holds its collection');
    ok(!exists $l4->{nextCursor}, 'scoped token: no further pages');
}

# ---- device list after restart
$t->restart;
{
    my ($s, $l) = $api->call(GET => $base);
    is_deeply([ map { $_->{deviceId} } @{ $l->{devices} || [] } ], \@want,
              'after restart: the same list, in order');
    my ($ids) = walk($base, 64, 'devices', 'deviceId');
    is_deeply($ids, \@want, 'after restart: paging walks the same list');
}

$t->finish;
done_testing;
