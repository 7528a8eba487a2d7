# The dashboard's name: an ACM certificate validated through Route 53 (unless one is given) and
# an alias record pointing the name at the load balancer.

locals {
  manage_dns         = var.route53_zone_id != null
  create_certificate = var.acm_certificate_arn == null
  dashboard_host     = coalesce(var.domain_name, aws_lb.main.dns_name)
}

resource "aws_acm_certificate" "dashboard" {
  count = local.create_certificate ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"

  lifecycle {
    # A renamed dashboard gets its new certificate before the listener lets go of the old one.
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = local.create_certificate ? {
    for option in aws_acm_certificate.dashboard[0].domain_validation_options : option.domain_name => option
  } : {}

  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "dashboard" {
  count = local.create_certificate ? 1 : 0

  certificate_arn         = aws_acm_certificate.dashboard[0].arn
  validation_record_fqdns = [for record in aws_route53_record.certificate_validation : record.fqdn]
}

locals {
  # The listener waits for validation: ACM refuses to attach a certificate that is still pending.
  certificate_arn = local.create_certificate ? aws_acm_certificate_validation.dashboard[0].certificate_arn : var.acm_certificate_arn
}

# IPv4 only, like the load balancer (ip_address_type "ipv4").
resource "aws_route53_record" "dashboard" {
  count = local.manage_dns ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}
