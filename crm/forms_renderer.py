from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """Render `{{ form.field.as_field_group }}` with the product's field markup."""

    field_template_name = "partials/field.html"
