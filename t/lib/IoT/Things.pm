package IoT::Things;

# The client of the things dialect (modelled on the KPN Things Devices
# API; `iot_api things`): Authorization: Bearer credentials (the same API
# tokens as the collections dialect), JSON objects both ways, errors as
# RFC 9457 problem details, and helpers that make devices.  See
# t/README.md.
#
#   use IoT::Test;
#   use IoT::Collections;
#   use IoT::Things;                  # exports is_problem, $UUID_RE, ...
#   my $t = IoT::Test->new(location => $IoT::Things::LOCATIONS);
#   my $api = IoT::Things->new($t);
#   $t->start;
#   my $C = IoT::Collections->new($t)->create_collection;
#   $api->{client_id} = $C->{teamId};      # clientId: UUID or teamId
#   my $D = $api->create_device($C->{collectionId}, { name => 'x' });
#   is_problem([$api->call(GET => '/devices/nope')], 400, 'bad id');

use strict;
use warnings;

use parent 'IoT::Client';

use Test::More;
use Exporter 'import';

our @EXPORT = qw(is_problem $UUID_RE $TIME_RE $PRINCIPAL_RE);

# ids of this dialect: UUIDs in lower case
our $UUID_RE = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/;
# times: ISO 8601 UTC with milliseconds
our $TIME_RE = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;
our $PRINCIPAL_RE = qr{^principal/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z};

# the locations of a server that speaks both dialects, as
# conf/nginx.conf.example has them
our $LOCATIONS =
    "location ~ ^/(devices|device-groups|ingestion)(/|\$) {\n"
  . "    iot_api things;\n}\n"
  . "location / {\n    iot_api collections;\n}\n";

sub auth_headers {
    my ($self, $token) = @_;
    return (Authorization => "Bearer $token");
}

# every answer of the dialect with a body is a JSON object
sub decode_body {
    my ($self, $raw) = @_;
    my $json = $self->SUPER::decode_body($raw);
    return (defined $json && ref $json eq 'HASH') ? $json : undef;
}

# ------------------------------------------------------------ creation

# a device body with every required field; %$over wins
sub device_body {
    my ($self, $project, $over) = @_;
    return {
        name                  => 'device',
        clientId              => $self->client_id,
        projectId             => $project,
        deviceSpecificationId => '9c359e94-ace1-448c-8ac9-443a7d3d963f',
        %{ $over || {} },
    };
}

# the installation's clientId: learned once from a device made for it
sub client_id {
    my ($self) = @_;
    return $self->{client_id} if $self->{client_id};
    die "IoT::Things->client_id: set it first (\$api->{client_id})\n";
}

# a device in project $project (its UUID or collection id); dies unless 201
sub create_device {
    my ($self, $project, $over, %o) = @_;
    my ($st, $j, undef, $raw) = $self->call(POST => '/devices',
        body => $self->device_body($project, $over), %o);
    die "POST /devices: $st $raw\n" unless $st == 201 && $j;
    return $j;
}

# ------------------------------------------------------------ checks

# an error answer: status, problem+json, {"type","title","status","detail"}
#   is_problem([$api->call(...)], 400, 'name'[, qr/detail/])
sub is_problem {
    my ($res, $status, $name, $detail_re) = @_;
    my ($st, $j, $h, $raw) = @$res;
    my $ok = 1;
    $ok &= is($st, $status, "$name: status $status");
    $ok &= like($h->{'content-type'} // '', qr{^application/problem\+json\b}i,
                "$name: problem+json content type");
    $ok &= ok($j && defined $j->{status} && !ref $j->{status}
              && $j->{status} =~ /^\d+\z/ && $j->{status} == $status
              && defined $j->{title} && length $j->{title}
              && defined $j->{type},
              "$name: problem has type, title, status $status");
    $ok &= ok($j && defined $j->{detail} && !ref $j->{detail}
              && length $j->{detail}, "$name: problem has a detail");
    if ($detail_re) {
        $ok &= like($j ? ($j->{detail} // '') : '', $detail_re,
                    "$name: detail names the problem");
    }
    diag("answer was: $st $raw") unless $ok;
    return $ok;
}

1;
